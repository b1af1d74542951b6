/** Key types OpenSSH accepts in authorized_keys (DSA is gone from current OpenSSH). */
const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Longest key line accepted: an RSA-16384 key is about 2.8 KB. */
export const MAX_SSH_KEY_LENGTH = 8192;

/**
 * Whether `line` is an OpenSSH public key: "type base64-blob [comment]", where the blob is valid
 * base64 and itself starts with the same type name (the wire format repeats it), so a truncated or
 * mislabelled paste is caught here rather than by a guest that silently ignores it.
 */
export function isOpenSshPublicKey(line: string): boolean {
  if (line.length > MAX_SSH_KEY_LENGTH || /[\r\n]/.test(line)) return false;
  const [type, blob] = line.trim().split(/\s+/);
  if (!type || !blob || !KEY_TYPES.has(type) || blob.length % 4 !== 0 || !BASE64.test(blob)) return false;
  const bytes = Buffer.from(blob, 'base64');
  if (bytes.length < 4) return false;
  const typeLength = bytes.readUInt32BE(0);
  // The key material follows the type name; 16 bytes is less than any real key has.
  if (bytes.length < 4 + typeLength + 16) return false;
  return bytes.subarray(4, 4 + typeLength).toString('latin1') === type;
}
