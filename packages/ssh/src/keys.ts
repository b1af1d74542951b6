import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ssh2, { type ParsedKey } from 'ssh2';
import { SshKeyError } from './errors';

/**
 * Fails early, with a message that holds no key material, when a private key cannot be used;
 * ssh2 would otherwise throw from deep inside connect().
 */
export function assertUsablePrivateKey(privateKey: string | Buffer, passphrase?: string): void {
  parsePrivateKey(privateKey, passphrase);
}

function parsePrivateKey(privateKey: string | Buffer, passphrase?: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase);
  if (parsed instanceof Error) throw new SshKeyError(`unusable SSH private key: ${describeParseFailure(parsed)}`);
  // OpenSSH's format holds one key.
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/** Keys parsed for authentication, by a hash of the key text and passphrase (never the text itself). */
const signingKeys = new Map<string, ParsedKey>();
const maxSigningKeys = 256;

/**
 * The private key as ssh2 authenticates with it, parsed once per process instead of at every
 * connection (a guest is reached by several jobs, each over a connection of its own). An ed25519 key
 * signs through a key object made once: ssh2 signs with the key's PEM text, which Node decodes again
 * at every signature. Throws SshKeyError, naming no key material, when the key cannot be used.
 */
export function signingKey(privateKey: string | Buffer, passphrase?: string): ParsedKey {
  const id = createHash('sha256')
    .update(privateKey)
    .update('\0')
    .update(passphrase ?? '')
    .digest('base64');
  const cached = signingKeys.get(id);
  if (cached) return cached;
  const parsed = parsePrivateKey(privateKey, passphrase);
  let key = parsed;
  if (parsed.type === 'ssh-ed25519') {
    const keyObject = createPrivateKey(parsed.getPrivatePEM());
    key = Object.create(parsed) as ParsedKey;
    // ssh2 returns a signing failure rather than throwing it; Ed25519 takes no hash algorithm.
    key.sign = (data, algo) => {
      if (algo) return parsed.sign(data, algo);
      try {
        return sign(null, typeof data === 'string' ? Buffer.from(data) : data, keyObject);
      } catch (error) {
        return error as Buffer;
      }
    };
  }
  if (signingKeys.size >= maxSigningKeys) signingKeys.delete(signingKeys.keys().next().value!);
  signingKeys.set(id, key);
  return key;
}

/** The fields of an SSH public key blob: `string type, string key` for ed25519 (RFC 8709). */
function ed25519Point(blob: Buffer): Buffer | undefined {
  if (blob.length !== 4 + 11 + 4 + 32 || blob.readUInt32BE(0) !== 11) return undefined;
  if (blob.toString('latin1', 4, 15) !== 'ssh-ed25519' || blob.readUInt32BE(15) !== 32) return undefined;
  return blob.subarray(19);
}

/** A marker on ssh2's key prototype once its ed25519 check is the one below. */
const VERIFY_PATCHED = Symbol.for('glassdome.ssh.ed25519-verify');

/**
 * Makes ssh2 check ed25519 signatures with a key object built from the key's 32 bytes instead of the
 * PEM text it keeps: ssh2 hands `crypto.verify` that text at every check, and Node (OpenSSL 3's
 * decoders) spends about as long decoding it as on the signature itself. Every connection checks
 * one such signature, the server's over the key exchange (a guest's host key is new to the process
 * on each first connection, so there is nothing to keep between them). The check is the same one:
 * the same point, the same signature, the same answer (true, false, or the error ssh2 returns); a key
 * of another type, or one asked for with a hash algorithm, goes through ssh2's own code. ssh2's parsed
 * keys share one prototype (its `BaseKey`), reached through a key it parses here; done once per process.
 */
export function checkEd25519WithRawKeys(): void {
  const sample = ssh2.utils.parseKey(
    `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(Buffer.alloc(32, 1))]).toString('base64')}`,
  );
  if (sample instanceof Error || Array.isArray(sample)) return;
  const base = Object.getPrototypeOf(sample) as ParsedKey & { [VERIFY_PATCHED]?: true };
  if (base[VERIFY_PATCHED] || typeof base.verify !== 'function' || typeof base.getPublicSSH !== 'function') return;
  const original = base.verify;
  base.verify = function (this: ParsedKey, data: Buffer | string, signature: Buffer, algo?: string) {
    const point = this.type === 'ssh-ed25519' && !algo ? ed25519Point(this.getPublicSSH()) : undefined;
    let key: KeyObject | undefined;
    try {
      key =
        point &&
        createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') }, format: 'jwk' });
    } catch {
      key = undefined;
    }
    if (!key) return original.call(this, data, signature, algo);
    try {
      return verify(null, typeof data === 'string' ? Buffer.from(data) : data, key, signature);
    } catch (error) {
      // ssh2 returns a failed check's error rather than throwing it.
      return error as boolean;
    }
  };
  base[VERIFY_PATCHED] = true;
}

function sshString(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length);
  return Buffer.concat([length, value]);
}

/** ssh2's parse errors are short fixed sentences; keep only known ones so nothing else can slip through. */
function describeParseFailure(error: Error): string {
  if (/passphrase/i.test(error.message)) return 'missing or wrong passphrase';
  if (/unsupported/i.test(error.message)) return 'unsupported key type or format';
  return 'not a private key in a format ssh2 reads (OpenSSH, PEM or PuTTY)';
}

/**
 * Reads a private key file (e.g. PROXMOX_SSH_KEY_FILE) and checks that it parses. Keys come from files
 * or the encrypted credential store, never from job data.
 */
export async function loadPrivateKey(path: string, passphrase?: string): Promise<string> {
  let key: string;
  try {
    key = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SshKeyError(`cannot read SSH private key file ${path}: ${code}`);
  }
  assertUsablePrivateKey(key, passphrase);
  return key;
}
