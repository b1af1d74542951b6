/** SSH keys for the simulator: generated host keys, their fingerprints, and authorized-key checks. */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ssh2, { type ParsedKey } from 'ssh2';

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { utils } = ssh2;

export interface GeneratedKeyPair {
  /** OpenSSH private key (PEM-like `-----BEGIN OPENSSH PRIVATE KEY-----`). */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment` line. */
  publicKey: string;
}

/**
 * A fresh ed25519 key pair in OpenSSH formats. The only place the simulator makes keys (node host
 * key, guests' host keys, the generated root key).
 *
 * Made with node:crypto and encoded here rather than with ssh2's `generateKeyPairSync`: ssh2 drops
 * a leading zero byte of the public key, so about one key in 256 comes out 31 bytes long and its own
 * parser rejects it ("Malformed OpenSSH private key"), which failed simulator starts at random.
 */
export function generateEd25519(comment = 'pve-sim'): GeneratedKeyPair {
  // Encoded by the key generation itself (DER), never exported from a KeyObject afterwards: on Node 20
  // a JWK export could deadlock the process when a garbage collection ran during it (seen: a process
  // asleep on a mutex under KeyObjectHandle::ExportJWK → GC → ~KeyGenJob).
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  // RFC 8410: an ed25519 SPKI is a 12-byte header and the 32-byte public point; a PKCS #8 a 16-byte
  // header and the 32-byte seed.
  if (publicKey.length !== 44 || privateKey.length !== 48)
    throw new Error('node:crypto returned a malformed ed25519 key');
  const publicPoint = publicKey.subarray(12);
  const seed = privateKey.subarray(16);
  const publicBlob = sshStrings(Buffer.from('ssh-ed25519'), publicPoint);
  return {
    privateKey: openSshPrivateKey(publicBlob, publicPoint, seed, comment),
    publicKey: `ssh-ed25519 ${publicBlob.toString('base64')} ${comment}`,
  };
}

/** SSH wire strings: each a uint32 length and the bytes (RFC 4251 §5). */
function sshStrings(...values: Buffer[]): Buffer {
  return Buffer.concat(
    values.flatMap((value) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(value.length);
      return [length, value];
    }),
  );
}

/** The unencrypted `openssh-key-v1` container (OpenSSH's PROTOCOL.key) holding one ed25519 key. */
function openSshPrivateKey(publicBlob: Buffer, publicPoint: Buffer, seed: Buffer, comment: string): string {
  const check = randomBytes(4);
  const keyType = Buffer.from('ssh-ed25519');
  const unpadded = Buffer.concat([
    check,
    check,
    sshStrings(keyType, publicPoint, Buffer.concat([seed, publicPoint]), Buffer.from(comment)),
  ]);
  // Without a cipher the block size is 8; padding bytes count 1, 2, 3, ….
  const padding = Buffer.from(Array.from({ length: (8 - (unpadded.length % 8)) % 8 }, (_, i) => i + 1));
  const none = Buffer.from('none');
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshStrings(none, none, Buffer.alloc(0)),
    count,
    sshStrings(publicBlob, Buffer.concat([unpadded, padding])),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
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
