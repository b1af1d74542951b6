import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An OpenSSH key pair as a trainee would bring it: the private key's PEM and the `.pub` line. */
export interface SshKeyPair {
  privateKey: string;
  publicKey: string;
}

/**
 * A new ed25519 key pair made by `ssh-keygen` (no passphrase, `comment` on the public line). Its files
 * are removed once read, so no private key is left behind in the temporary directory.
 */
export function newSshKeyPair(comment: string): SshKeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'gd-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', join(dir, 'id')]);
    return {
      privateKey: readFileSync(join(dir, 'id'), 'utf8'),
      publicKey: readFileSync(join(dir, 'id.pub'), 'utf8').trim(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
