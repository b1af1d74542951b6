import { OS_PROFILES } from '@glassdome/lab';
import { PermanentError } from '@glassdome/queue';
import type { SshTarget } from '@glassdome/ssh';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { loginUser } from '../vm-spec';

/** Where provisioning leaves a marker per finished item, so a resumed job never runs one twice. */
const markerDir = '/var/lib/glassdome/provision';

export function guestTarget(ctx: InstallerContext, vm: VmRow): SshTarget {
  if (!vm.ip) throw new Error(`VM ${vm.id} has no IP yet`);
  return {
    host: vm.ip,
    port: ctx.env.GUEST_SSH_PORT,
    username: loginUser(vm.spec),
    privateKey: ctx.guestKey.privateKey,
    // A fresh guest's host key cannot be known beforehand: trusted on first use, recorded in Postgres,
    // and a changed key after that is refused.
    hostKey: { kind: 'tofu', store: ctx.hostKeys },
  };
}

export async function waitForSsh(ctx: InstallerContext, vm: VmRow) {
  await ctx.ssh.waitForSsh(guestTarget(ctx, vm), { deadlineMs: ctx.env.SSH_TIMEOUT_SECONDS * 1000 });
  return { user: loginUser(vm.spec) };
}

async function run(ctx: InstallerContext, target: SshTarget, argv: string[], what: string) {
  const result = await ctx.ssh.exec(target, argv, { timeoutMs: 15 * 60_000, allowFailure: true });
  if (result.exitCode !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new PermanentError(`${what} exited ${result.exitCode}${tail ? `: ${tail}` : ''}`);
  }
  return result;
}

/** The post-configuration items of a VM, in order: packages, cloud-init runcmd, then provision steps. */
function provisionItems(
  vm: VmRow,
): { label: string; argv?: string[]; file?: { path: string; content: string; mode?: string } }[] {
  const spec = vm.spec;
  const items: ReturnType<typeof provisionItems> = [];
  const packages = spec.cloudInit?.packages ?? [];
  if (packages.length > 0) {
    if (OS_PROFILES[spec.os].packageManager !== 'apt') throw new PermanentError(`no package manager for ${spec.os}`);
    items.push({ label: 'apt-get update', argv: ['sudo', 'apt-get', 'update'] });
    items.push({
      label: `install ${packages.join(' ')}`,
      argv: ['sudo', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', ...packages],
    });
  }
  for (const command of spec.cloudInit?.runcmd ?? [])
    items.push({ label: command, argv: ['sudo', 'sh', '-c', command] });
  for (const step of spec.provision ?? []) {
    if ('run' in step) items.push({ label: step.run, argv: ['sudo', 'sh', '-c', step.run] });
    else items.push({ label: `write ${step.file.path}`, file: step.file });
  }
  return items;
}

/**
 * Waits for cloud-init, then runs each item once: an item's marker on the guest says it finished, so
 * a job resumed after a crash skips what already ran.
 */
export async function postConfigure(ctx: InstallerContext, vm: VmRow) {
  const target = guestTarget(ctx, vm);
  await run(ctx, target, ['cloud-init', 'status', '--wait'], 'cloud-init status --wait');
  const items = provisionItems(vm);
  let ran = 0;
  for (const [index, item] of items.entries()) {
    const marker = `${markerDir}/${vm.id}-${index}`;
    const seen = await ctx.ssh.exec(target, ['sudo', 'test', '-e', marker], { allowFailure: true });
    if (seen.exitCode === 0) continue;
    if (item.argv) await run(ctx, target, item.argv, item.label);
    if (item.file) await writeFile(ctx, target, item.file);
    await run(ctx, target, ['sudo', 'mkdir', '-p', markerDir], 'mkdir marker dir');
    await run(ctx, target, ['sudo', 'sh', '-c', `echo done > ${marker}`], 'write marker');
    ran++;
  }
  return { items: items.length, ran };
}

async function writeFile(
  ctx: InstallerContext,
  target: SshTarget,
  file: { path: string; content: string; mode?: string },
) {
  const staging = `/tmp/glassdome-upload-${process.pid}-${Date.now()}`;
  await ctx.ssh.upload(target, Buffer.from(file.content), staging);
  const dir = file.path.replace(/\/[^/]*$/, '') || '/';
  await run(ctx, target, ['sudo', 'mkdir', '-p', dir], `mkdir ${dir}`);
  await run(ctx, target, ['sudo', 'cp', staging, file.path], `write ${file.path}`);
  if (file.mode) await run(ctx, target, ['sudo', 'chmod', file.mode, file.path], `chmod ${file.path}`);
  await ctx.ssh.exec(target, ['rm', '-f', staging], { allowFailure: true });
}

/** The guest answers over SSH as the expected OS. */
export async function verify(ctx: InstallerContext, vm: VmRow) {
  const target = guestTarget(ctx, vm);
  const release = await run(ctx, target, ['cat', '/etc/os-release'], 'cat /etc/os-release');
  const id = /^ID=("?)([^"\n]+)\1$/m.exec(release.stdout)?.[2];
  const expected = vm.spec.os.split('-')[0];
  if (id && expected && id !== expected) throw new PermanentError(`guest reports ID=${id}, expected ${expected}`);
  return { osId: id ?? null, ip: vm.ip };
}
