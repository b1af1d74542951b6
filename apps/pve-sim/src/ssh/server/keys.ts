/** SSH keys for the simulator: generated host keys, their fingerprints, and authorized-key checks. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ssh2, { type ParsedKey } from 'ssh2';

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { utils } = ssh2;

export interface GeneratedKeyPair {
  /** OpenSSH private key (PEM-like `-----BEGIN OPENSSH PRIVATE KEY-----`). */
  privateKey: string;
  /** `ssh-ed25519 AAAA…` line. */
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH formats. */
export function generateEd25519(comment = 'pve-sim'): GeneratedKeyPair {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}

/** `SHA256:<base64 without padding>` of a public key, as `ssh-keygen -l` prints it. */
export function sha256Fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses authorized_keys text (or key lines), skipping comments and lines ssh2 cannot read. */
export function parseAuthorizedKeys(lines: string[]): ParsedKey[] {
  const keys: ParsedKey[] = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    // Options before the key type (`from="…" ssh-ed25519 AAAA…`) are ignored, not enforced.
    const start = trimmed.search(/(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+)\s/);
    const parsed = utils.parseKey(start > 0 ? trimmed.slice(start) : trimmed);
    if (!(parsed instanceof Error)) keys.push(Array.isArray(parsed) ? parsed[0]! : parsed);
  }
  return keys;
}

export function readAuthorizedKeysFile(path: string): ParsedKey[] {
  return parseAuthorizedKeys(readFileSync(path, 'utf8').split('\n'));
}

/** What ssh2 hands a `publickey` authentication attempt. */
export interface PublicKeyAttempt {
  key: { algo: string; data: Buffer };
  signature?: Buffer;
  blob?: Buffer;
  hashAlgo?: string;
}

/**
 * Whether the attempt is for one of `allowed` and, when it carries a signature, whether the
 * signature proves possession of the private key. A query without a signature only asks "would you
 * accept this key?", which is answered the same way.
 */
export function publicKeyMatches(attempt: PublicKeyAttempt, allowed: ParsedKey[]): boolean {
  const key = allowed.find((candidate) => candidate.getPublicSSH().equals(attempt.key.data));
  if (!key) return false;
  if (!attempt.signature || !attempt.blob) return true;
  return key.verify(attempt.blob, attempt.signature, attempt.hashAlgo as never) === true;
}
