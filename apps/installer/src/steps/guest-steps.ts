import { createHash } from 'node:crypto';
import { appendEvent } from '@glassdome/db';
import { OS_PROFILES } from '@glassdome/lab';
import { PermanentError } from '@glassdome/queue';
import { quoteArg, quoteArgv, type SshTarget } from '@glassdome/ssh';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { loginUser } from '../vm-spec';
import { guestTarget, learnedPin, onGuest, pinHostKey } from './guest-trust';

/** Where provisioning leaves a marker per finished item, so a resumed job never runs one twice. */
const markerDir = '/var/lib/glassdome/provision';

export { guestTarget } from './guest-trust';

/**
 * The first SSH to a guest: its host key is read through the guest agent and pinned first (again at
 * every deploy or revert, since the disk may be new: by this attempt's agent wait, which recorded the
 * pin with its end, or else here), then SSH waits until the guest presents exactly that key and
 * accepts its copy's login key.
 */
export async function waitForSsh(ctx: InstallerContext, vm: VmRow) {
  const fingerprint = learnedPin(vm) ?? (await pinHostKey(ctx, vm));
  const target = await guestTarget(ctx, vm);
  await onGuest(vm, () => ctx.ssh.waitForSsh(target, { deadlineMs: ctx.env.SSH_TIMEOUT_SECONDS * 1000 }));
  return { user: loginUser(vm.spec), hostKey: fingerprint };
}

/** How a guest command is named: in full in the VM's private log, and as shown to everyone else. */
interface CommandLabel {
  full: string;
  shown: string;
}

/**
 * Runs a command on the guest; a non-zero exit fails the step. The command's text (a user's
 * provisioning command may hold a password) and what the guest printed go to a private event — the
 * VM's full log, for the key that created it and admins — while the error, which viewers, trainees
 * and job listings see, names only the item and its exit status.
 */
async function run(ctx: InstallerContext, vm: VmRow, target: SshTarget, argv: string[], label: CommandLabel) {
  const result = await ctx.ssh.exec(target, argv, { timeoutMs: 15 * 60_000, allowFailure: true });
  if (result.exitCode !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    await appendEvent(ctx.db, {
      vmId: vm.id,
      labId: vm.lab_id,
      kind: 'vm.guest.failed',
      message: `${label.full} exited ${result.exitCode}${tail ? `: ${tail}` : ''}`,
      data: { exitCode: result.exitCode, stderr: tail },
      private: true,
    });
    throw new PermanentError(
      `${label.shown} exited ${result.exitCode}; the command and its output are in the VM's full log (GET /api/v1/vms/${vm.id}/logs)`,
    );
  }
  return result;
}

/** A command of Glassdome's own: its text is no secret (its output still is). */
function own(command: string): CommandLabel {
  return { full: command, shown: command };
}

interface ProvisionItem {
  label: string;
  /** The item's own work, as shell lines (run under `set -eu`). */
  body: string;
  /** File content the body copies from `$STAGED` into place. */
  upload?: string;
}

/** The post-configuration items of a VM, in order: packages, cloud-init runcmd, then provision steps. */
function provisionItems(vm: VmRow): ProvisionItem[] {
  const spec = vm.spec;
  const items: ProvisionItem[] = [];
  // A lab VM's own network setup first: forwarding where it routes, routes to networks it is not on.
  if (spec.routerFor && spec.routerFor.length > 0) {
    // Written to sysctl.d so it outlives a reboot, then applied now.
    items.push({
      label: 'route between its networks',
      body: 'mkdir -p /etc/sysctl.d\necho net.ipv4.ip_forward=1 > /etc/sysctl.d/60-glassdome-router.conf\nsysctl -w net.ipv4.ip_forward=1',
    });
  }
  for (const route of spec.routes ?? []) {
    items.push({
      label: `route to ${route.to}`,
      body: `ip route replace ${quoteArg(route.to)} via ${quoteArg(route.via)}`,
    });
  }
  const packages = spec.cloudInit.packages;
  if (packages.length > 0) {
    if (!spec.os || OS_PROFILES[spec.os].packageManager !== 'apt') {
      throw new PermanentError(`no package manager known for ${spec.os ?? 'a custom template'}`);
    }
    items.push({
      label: `install ${packages.join(' ')}`,
      body: `apt-get update\nDEBIAN_FRONTEND=noninteractive apt-get install -y ${packages.map(quoteArg).join(' ')}`,
    });
  }
  for (const command of spec.cloudInit.runcmd) items.push({ label: command, body: command });
  for (const step of spec.provision) {
    if ('run' in step) {
      items.push({ label: step.run, body: step.run });
    } else {
      const { path, content, mode } = step.file;
      const dir = path.replace(/\/[^/]*$/, '') || '/';
      const lines = [`mkdir -p ${quoteArg(dir)}`, `cp "$STAGED" ${quoteArg(path)}`];
      if (mode) lines.push(`chmod ${quoteArg(mode)} ${quoteArg(path)}`);
      items.push({ label: `write ${path}`, body: lines.join('\n'), upload: content });
    }
  }
  return items;
}

/**
 * One item as a root script: its work under `set -eu` (any failing line stops it with that line's
 * status), then — reached only when every line succeeded — its marker, written atomically (rename).
 * The user's text sits on lines of its own, so a trailing `# comment` cannot swallow the marker. The
 * script removes itself last, so an item that failed leaves it in place, as its staged file.
 */
function itemScript(item: ProvisionItem, marker: string, staged: string, script: string): string {
  return [
    'set -eu',
    `STAGED=${quoteArg(staged)}`,
    item.body,
    `mkdir -p ${markerDir}`,
    `echo done > ${marker}.tmp`,
    `mv -f ${marker}.tmp ${marker}`,
    'rm -f "$STAGED"',
    `rm -f ${quoteArg(script)} || true`,
    '',
  ].join('\n');
}

/** The line that says an item's marker is there: `gd-item-done <index>`. */
const ITEM_DONE = 'gd-item-done';
const itemDoneLine = new RegExp(`^${ITEM_DONE} (\\d+)$`, 'gm');

/** Items are keyed by what they do: an item whose text changed is a new item, and one already done is skipped. */
function itemKey(vm: VmRow, index: number, item: ProvisionItem): string {
  const hash = createHash('sha256');
  hash.update(`${vm.id}\0${index}\0${item.body}\0${item.upload ?? ''}`);
  return hash.digest('hex').slice(0, 24);
}

/**
 * Waits for cloud-init, then runs each item once: an item's marker on the guest says it finished, so
 * a job resumed after a crash skips what already ran, and an item that was cut short runs again from
 * its first line. The markers are looked for in the command that waits for cloud-init.
 */
export function postConfigure(ctx: InstallerContext, vm: VmRow) {
  return onGuest(vm, () => provision(ctx, vm));
}

async function provision(ctx: InstallerContext, vm: VmRow) {
  const target = await guestTarget(ctx, vm);
  const items = provisionItems(vm);
  readAlong.delete(vm);
  // One command waits for cloud-init, then either reads the guest for the verify step (no item to run
  // after it: see readAlong) or tells which items' markers are there (one command per item fewer;
  // only this job runs the VM's items, so none appears between this look and its turn).
  const keys = items.map((item, index) => itemKey(vm, index, item));
  const after =
    items.length === 0
      ? [
          `echo ${READ_ALONG}`,
          quoteArgv(verifyArgv(vm)),
          // The closing line starts a line of its own even when the output does not end with one.
          `printf '\\n%s %s\\n' ${READ_ALONG} $?`,
        ]
      : keys.map((key, index) => `if sudo test -e ${markerDir}/${key}; then echo ${ITEM_DONE} ${index}; fi`);
  const { stdout } = await run(
    ctx,
    vm,
    target,
    ['sh', '-c', [AWAIT_CLOUD_INIT, ...after].join('\n')],
    own('cloud-init status --wait'),
  );
  if (items.length === 0) {
    const read = readAlongAnswer.exec(stdout);
    // A read that failed is left to the verify step, which asks again and fails under its own name.
    if (read?.[2] === '0') readAlong.set(vm, read[1]!);
    return { items: 0, ran: 0 };
  }
  const done = new Set([...stdout.matchAll(itemDoneLine)].map((match) => Number(match[1])));
  let ran = 0;
  for (const [index, item] of items.entries()) {
    const key = keys[index]!;
    const marker = `${markerDir}/${key}`;
    if (done.has(index)) continue;
    const script = `/tmp/glassdome-${key}.sh`;
    const staged = `/tmp/glassdome-${key}.data`;
    if (item.upload !== undefined) await ctx.ssh.upload(target, Buffer.from(item.upload), staged, 0o600);
    await ctx.ssh.upload(target, Buffer.from(itemScript(item, marker, staged, script)), script, 0o600);
    await run(ctx, vm, target, ['sudo', 'sh', script], {
      full: item.label,
      shown: `provisioning item ${index + 1} of ${items.length}`,
    });
    ran++;
  }
  return { items: items.length, ran };
}

/** Waits for cloud-init to finish, ending the script with its status when it failed. */
const AWAIT_CLOUD_INIT = 'cloud-init status --wait || exit $?';

/**
 * What the verification reads: the OS release and, for a lab VM given addresses, its IPv4 addresses
 * after it. Neither output can be mistaken for the other's lines (`ID=…` from os-release, `inet
 * a.b.c.d/n` from ip).
 */
function verifyArgv(vm: VmRow): string[] {
  return (vm.spec.networks ?? []).some((network) => network.ip)
    ? ['sh', '-c', 'cat /etc/os-release && ip -4 addr']
    : ['cat', '/etc/os-release'];
}

/**
 * The verification read that a post-configuration with no item to run made in the command that waited
 * for cloud-init, by the VM record of this attempt: the verify step right after it checks that output
 * instead of asking the guest again (one SSH command per VM fewer). With no item between, the guest
 * is read at the same point as the verify step's own read would find it. Another attempt loads
 * another record, and reads; so does a verify step whose post-configuration ran items.
 */
const readAlong = new WeakMap<VmRow, string>();
/** The line before the verification read's output, and, after it, the line with its exit status. */
const READ_ALONG = 'gd-verify-read';
const readAlongAnswer = new RegExp(`^${READ_ALONG}\n([\\s\\S]*?)^${READ_ALONG} (\\d+)$`, 'm');

/** The guest answers over SSH as the expected OS, with every lab address it was given. */
export function verify(ctx: InstallerContext, vm: VmRow) {
  return onGuest(vm, () => verifyGuest(ctx, vm));
}

/** One command on the guest (each is a channel with its round trips on the VM's connection): see verifyArgv. */
async function readGuest(ctx: InstallerContext, vm: VmRow): Promise<string> {
  const target = await guestTarget(ctx, vm);
  const argv = verifyArgv(vm);
  return (await run(ctx, vm, target, argv, own(quoteArgv(argv)))).stdout;
}

/** Checks what the verification read (verifyArgv) printed. */
async function verifyGuest(ctx: InstallerContext, vm: VmRow) {
  const wanted = (vm.spec.networks ?? []).filter((network) => network.ip);
  const along = readAlong.get(vm);
  readAlong.delete(vm);
  const stdout = along ?? (await readGuest(ctx, vm));
  const id = /^ID=("?)([^"\n]+)\1$/m.exec(stdout)?.[2];
  const expected = vm.spec.os?.split('-')[0];
  // A lab VM holds every address the lab assigned it, each on a NIC of its own.
  const held = new Set([...stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/g)].map((match) => match[1]));
  const missing = wanted.filter((network) => !held.has(network.ip!));
  if (missing.length > 0) {
    throw new PermanentError(
      `the guest lacks ${missing.map((network) => `${network.ip} (${network.name})`).join(', ')}; it has ${[...held].join(', ') || 'none'}`,
    );
  }
  if (id && expected && id !== expected) throw new PermanentError(`guest reports ID=${id}, expected ${expected}`);
  return { osId: id ?? null, ip: vm.ip };
}
