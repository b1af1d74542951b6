/**
 * The keys a VM's login user accepts, kept over SSH: the keys of its stored spec (a trainee's, put
 * there by a deploy with parameters or a pool claim) are in its `authorized_keys`, whatever a revert
 * brought back. Keys already there stay; nothing is removed.
 */
import { quoteArg } from '@glassdome/ssh';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { loginUser } from '../vm-spec';
import { guestTarget, onGuest } from './guest-trust';

function homeOf(user: string): string {
  return user === 'root' ? '/root' : `/home/${user}`;
}

/** The base64 blob of an OpenSSH public key line: the key itself, whatever its comment says. */
function blobOf(key: string): string {
  return key.split(/\s+/)[1] ?? key;
}

/**
 * Adds the keys the file lacks (one line each), in one remote command so a claim waits for one round
 * trip: a key counts as present when its blob is in the file (under any comment). Returns how many
 * keys it was asked to ensure.
 */
export async function ensureAuthorizedKeys(ctx: InstallerContext, vm: VmRow, keys: readonly string[]): Promise<number> {
  const wanted = [...new Set(keys.map((key) => key.trim()).filter(Boolean))];
  if (wanted.length === 0) return 0;
  const target = await guestTarget(ctx, vm);
  const file = `${homeOf(loginUser(vm.spec))}/.ssh/authorized_keys`;
  const lines = [
    `mkdir -p ${quoteArg(file.replace(/\/[^/]+$/, ''))}`,
    ...wanted.map(
      (key) => `grep -qF ${quoteArg(blobOf(key))} ${quoteArg(file)} || echo ${quoteArg(key)} >> ${quoteArg(file)}`,
    ),
    `chmod 600 ${quoteArg(file)}`,
    // The exit status says whether every key is there now.
    wanted.map((key) => `grep -qF ${quoteArg(blobOf(key))} ${quoteArg(file)}`).join(' && '),
  ];
  const result = await onGuest(vm, () =>
    ctx.ssh.exec(target, ['sh', '-c', lines.join('; ')], { allowFailure: true, timeoutMs: 30_000 }),
  );
  if (result.exitCode !== 0) throw new Error(`adding SSH keys on ${vm.name} exited ${result.exitCode}`);
  return wanted.length;
}
