import { createHash, createPrivateKey, sign } from 'node:crypto';
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
