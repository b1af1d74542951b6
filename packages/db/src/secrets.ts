import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Raised when a sealed secret cannot be opened (wrong key or tampered data); never says what it held. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

/** Reads GLASSDOME_SECRET_KEY: 32 bytes as base64 or hex. */
export function parseSecretKey(text: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new SecretKeyError('GLASSDOME_SECRET_KEY must be 32 bytes, as base64 or 64 hex digits');
  return key;
}

/** AES-256-GCM: `v1.<nonce>.<tag>.<ciphertext>`, each base64url. */
export function sealSecret(key: Buffer, plaintext: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', nonce, cipher.getAuthTag(), body]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export function openSecret(key: Buffer, sealed: string): string {
  const [version, nonce, tag, body] = sealed.split('.');
  if (version !== 'v1' || !nonce || !tag || body === undefined) throw new SecretKeyError('sealed secret is malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretKeyError(
      'sealed secret cannot be opened with this GLASSDOME_SECRET_KEY (sealed with another key, or altered): ' +
        'set the key it was sealed with, or start from an empty database',
    );
  }
}
