import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { SshKeyError } from './errors';

/**
 * Fails early, with a message that holds no key material, when a private key cannot be used;
 * ssh2 would otherwise throw from deep inside connect().
 */
export function assertUsablePrivateKey(privateKey: string | Buffer, passphrase?: string): void {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase);
  if (parsed instanceof Error) throw new SshKeyError(`unusable SSH private key: ${describeParseFailure(parsed)}`);
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
