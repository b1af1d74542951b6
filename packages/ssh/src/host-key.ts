import { createHash } from 'node:crypto';
import { HostKeyMismatchError } from './errors';

/** Where trust-on-first-use keeps the first host key it saw for each host and port. */
export interface HostKeyStore {
  /** The trusted fingerprint for host:port, or undefined when none is recorded yet. */
  get(host: string, port: number): Promise<string | undefined>;
  /**
   * Records `fingerprint` for host:port unless one is already recorded (the first writer wins, so two
   * workers racing on a new host agree). Returns the fingerprint that is recorded afterwards.
   */
  trust(host: string, port: number, fingerprint: string, keyType: string): Promise<string>;
}

/**
 * How a server's host key is checked. Pinned is the default everywhere; trust-on-first-use is only for
 * hosts whose key cannot be known in advance (fresh guests) and only when a caller asks for it.
 */
export type HostKeyPolicy =
  /** Accept only these fingerprints, written as `ssh-keygen -l` prints them (`SHA256:…`). */
  | { kind: 'pinned'; fingerprints: string[] }
  /** Accept and record the first key seen; afterwards accept only that key. */
  | { kind: 'tofu'; store: HostKeyStore };

/** SHA256 fingerprint of a raw host key blob, in ssh-keygen's format (`SHA256:` + unpadded base64). */
export function fingerprintOf(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name at the start of an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyTypeOf(hostKey: Buffer): string {
  if (hostKey.length < 4) return 'unknown';
  const length = hostKey.readUInt32BE(0);
  return hostKey.subarray(4, 4 + length).toString('latin1') || 'unknown';
}

/**
 * The type and fingerprint of a public key as one line of a `.pub` file holds it (`ssh-ed25519
 * AAAA… root@host`). Refuses a line whose blob does not decode or names another type than the line.
 */
export function publicKeyLineFingerprint(line: string): { keyType: string; fingerprint: string } {
  const [type, data] = line.trim().split(/\s+/);
  const blob = data && /^[A-Za-z0-9+/]+={0,2}$/.test(data) ? Buffer.from(data, 'base64') : undefined;
  if (!type || !blob || keyTypeOf(blob) !== type) {
    throw new Error(`not an OpenSSH public key line: ${JSON.stringify(line.trim().slice(0, 60))}`);
  }
  return { keyType: type, fingerprint: fingerprintOf(blob) };
}

/** ssh-keygen prints no padding, but copies from other tools may carry it. */
function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.trim().replace(/=+$/, '');
}

/**
 * Checks a presented host key against the policy. Resolves when it is acceptable, rejects with
 * HostKeyMismatchError when it is not (or with the store's own error when the store cannot answer).
 */
export async function verifyHostKey(policy: HostKeyPolicy, host: string, port: number, hostKey: Buffer): Promise<void> {
  const received = fingerprintOf(hostKey);
  if (policy.kind === 'pinned') {
    const expected = policy.fingerprints.map(normalizeFingerprint);
    if (!expected.includes(received)) throw new HostKeyMismatchError(host, port, expected, received);
    return;
  }
  const known = await policy.store.get(host, port);
  const trusted = known ?? (await policy.store.trust(host, port, received, keyTypeOf(hostKey)));
  if (normalizeFingerprint(trusted) !== received) {
    throw new HostKeyMismatchError(host, port, [normalizeFingerprint(trusted)], received);
  }
}

/** A stable text for the policy, so connections verified under different policies are never shared. */
export function policyIdentity(policy: HostKeyPolicy): string {
  return policy.kind === 'pinned' ? `pinned:${policy.fingerprints.map(normalizeFingerprint).sort().join(',')}` : 'tofu';
}
