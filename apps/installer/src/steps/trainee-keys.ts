/**
 * The keys a VM's login user accepts, kept over SSH: the keys of its stored spec (a trainee's, put
 * there by a deploy with parameters or a pool claim) are in its `authorized_keys`, whatever a revert
 * brought back. Keys already there stay; nothing is removed.
 */
import { quoteArg } from '@glassdome/ssh';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { loginUser } from '../vm-spec';
import { guestTarget } from './guest-steps';

function homeOf(user: string): string {
  return user === 'root' ? '/root' : `/home/${user}`;
}

/** Adds the keys the file lacks (one line each); returns how many it added. */
export async function ensureAuthorizedKeys(ctx: InstallerContext, vm: VmRow, keys: readonly string[]): Promise<number> {
  const wanted = [...new Set(keys.map((key) => key.trim()).filter(Boolean))];
  if (wanted.length === 0) return 0;
  const target = guestTarget(ctx, vm);
  const file = `${homeOf(loginUser(vm.spec))}/.ssh/authorized_keys`;
  const current = await ctx.ssh.exec(target, ['cat', file], { allowFailure: true, timeoutMs: 30_000 });
  const present = new Set(
    (current.exitCode === 0 ? current.stdout : '')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean),
  );
  const missing = wanted.filter((key) => !present.has(key));
  if (missing.length === 0) return 0;
  const lines = missing.map((key) => `echo ${quoteArg(key)} >> ${quoteArg(file)}`);
  const script = [`mkdir -p ${quoteArg(file.replace(/\/[^/]+$/, ''))}`, ...lines, `chmod 600 ${quoteArg(file)}`];
  const result = await ctx.ssh.exec(target, ['sh', '-c', script.join(' && ')], {
    allowFailure: true,
    timeoutMs: 30_000,
  });
  if (result.exitCode !== 0) throw new Error(`adding SSH keys on ${vm.name} exited ${result.exitCode}`);
  return missing.length;
}
