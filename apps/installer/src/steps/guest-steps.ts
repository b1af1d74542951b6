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

/** Single-quotes a string for the shell scripts below (the SSH package quotes argv itself). */
function sq(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The post-configuration items of a VM, in order (packages, cloud-init runcmd, then provision
 * steps), each as one root shell script that does the work and then leaves its marker, so the work
 * and "it is done" are never split across two SSH round trips.
 */
function provisionScripts(
  vm: VmRow,
  marker: (index: number) => string,
  staging: string,
): { label: string; script: string; upload?: string }[] {
  const spec = vm.spec;
  const items: { label: string; script: string; upload?: string }[] = [];
  const done = (index: number) => `mkdir -p ${markerDir} && echo done > ${marker(index)}`;
  const packages = spec.cloudInit?.packages ?? [];
  if (packages.length > 0) {
    if (!spec.os || OS_PROFILES[spec.os].packageManager !== 'apt') {
      throw new PermanentError(`no package manager known for ${spec.os ?? 'a custom template'}`);
    }
    const list = packages.map(sq).join(' ');
    items.push({
      label: `install ${packages.join(' ')}`,
      script: `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${list} && ${done(items.length)}`,
    });
  }
  for (const command of spec.cloudInit?.runcmd ?? [])
    items.push({ label: command, script: `${command} && ${done(items.length)}` });
  for (const step of spec.provision ?? []) {
    if ('run' in step) {
      items.push({ label: step.run, script: `${step.run} && ${done(items.length)}` });
    } else {
      const { path, content, mode } = step.file;
      const dir = path.replace(/\/[^/]*$/, '') || '/';
      const chmod = mode ? ` && chmod ${sq(mode)} ${sq(path)}` : '';
      items.push({
        label: `write ${path}`,
        upload: content,
        script: `mkdir -p ${sq(dir)} && cp ${staging} ${sq(path)}${chmod} && rm -f ${staging} && ${done(items.length)}`,
      });
    }
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
  const marker = (index: number) => `${markerDir}/${vm.id}-${index}`;
  const staging = `/tmp/glassdome-upload-${vm.id}`;
  const items = provisionScripts(vm, marker, staging);
  let ran = 0;
  for (const [index, item] of items.entries()) {
    const seen = await ctx.ssh.exec(target, ['sudo', 'test', '-e', marker(index)], { allowFailure: true });
    if (seen.exitCode === 0) continue;
    if (item.upload !== undefined) await ctx.ssh.upload(target, Buffer.from(item.upload), staging, 0o600);
    await run(ctx, target, ['sudo', 'sh', '-c', item.script], item.label);
    ran++;
  }
  return { items: items.length, ran };
}

/** The guest answers over SSH as the expected OS. */
export async function verify(ctx: InstallerContext, vm: VmRow) {
  const target = guestTarget(ctx, vm);
  const release = await run(ctx, target, ['cat', '/etc/os-release'], 'cat /etc/os-release');
  const id = /^ID=("?)([^"\n]+)\1$/m.exec(release.stdout)?.[2];
  const expected = vm.spec.os?.split('-')[0];
  if (id && expected && id !== expected) throw new PermanentError(`guest reports ID=${id}, expected ${expected}`);
  return { osId: id ?? null, ip: vm.ip };
}
