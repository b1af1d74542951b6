import { appendEvent, getTemplate, updateTemplate } from '@glassdome/db';
import type { OsName } from '@glassdome/lab';
import { isFinalAttempt, type JobContext, PermanentError } from '@glassdome/queue';
import { adoptionProblem } from './adopt-template';
import type { GatewayContext } from './context';
import { onNode } from './node-shell';
import { OS_IMAGES } from './os-images';

/**
 * What a VM Glassdome is turning into a template carries in its description from `qm create` on: a
 * VM at the VMID that is not a template yet but carries this mark is a build of ours that stopped
 * half-way (a crash, a failed step), and is removed and built again; any other VM there is someone
 * else's and never touched. Keyed by the OS rather than the template row, so a build requested again
 * after a failed template was deleted still recognises what the earlier one left.
 */
export function buildMark(os: string): string {
  return `glassdome-template-build-${os}`;
}

/** `qm config` of the VMID as key → value, or undefined when no VM has it. */
async function existingConfig(ctx: GatewayContext, vmid: number): Promise<Record<string, string> | undefined> {
  const result = await ctx.ssh.exec(ctx.node, ['qm', 'config', String(vmid)], {
    timeoutMs: 60_000,
    allowFailure: true,
  });
  if (result.exitCode !== 0) return undefined;
  return Object.fromEntries(
    result.stdout
      .split('\n')
      .map((line) => line.split(/:\s(.*)/s))
      .filter((parts) => parts.length >= 2)
      .map(([key, value]) => [key!, value!.trim()]),
  );
}

/** Fetches the cloud image unless an earlier attempt already did (downloaded beside it, then renamed). */
async function downloadImage(ctx: GatewayContext, url: string, file: string): Promise<void> {
  await onNode(ctx, ['mkdir', '-p', ctx.env.TEMPLATE_IMAGE_DIR]);
  const present = await ctx.ssh.exec(ctx.node, ['test', '-s', file], { timeoutMs: 60_000, allowFailure: true });
  if (present.exitCode === 0) return;
  await onNode(ctx, ['wget', '-q', '-O', `${file}.part`, url], 60 * 60_000);
  await onNode(ctx, ['mv', '-f', `${file}.part`, file]);
}

/**
 * Builds an OS template on the node over SSH (Proxmox's cloud-init recipe: create, import the cloud
 * image, cloud-init drive, serial console, guest agent, template). Idempotent and resumable: a
 * template already at the VMID is reported, not rebuilt; a half-built VM of an earlier attempt (see
 * buildMark) is destroyed and built again, the downloaded image kept; a VM of anyone else's there is
 * an error, never overwritten. The template is `failed` only when no attempt follows.
 */
export async function createTemplate(ctx: GatewayContext, templateId: string, context?: JobContext) {
  const row = await getTemplate(ctx.db, templateId);
  if (!row) throw new PermanentError(`template ${templateId} does not exist`);
  const image = OS_IMAGES[row.os as OsName];
  if (!image) throw new PermanentError(`no cloud image known for ${row.os}`);
  // Every command of this build stops with the job (timeout, lost lock, shutdown).
  const job: GatewayContext = context ? { ...ctx, ssh: ctx.ssh.withSignal(context.signal) } : ctx;
  const vmid = String(row.vmid);
  await updateTemplate(ctx.db, row.id, { status: 'building', error: null });
  try {
    const existing = await existingConfig(job, row.vmid);
    if (existing?.template === '1') {
      // Adopted, not built: only if it is what it claims to be (see adopt-template.ts).
      const problem = adoptionProblem(row.os as OsName, row.vmid, existing);
      if (problem) throw new PermanentError(problem);
      await updateTemplate(ctx.db, row.id, { status: 'ready', configDigest: existing.digest ?? null });
      await appendEvent(ctx.db, {
        kind: 'template.exists',
        message: `template ${vmid} (${row.os}) already exists on ${row.node}; adopted`,
        project: row.project,
      });
      return { vmid: row.vmid, built: false };
    }
    if (existing && !(existing.description ?? '').includes(buildMark(row.os))) {
      throw new PermanentError(
        `VM ${vmid} exists and is not a template (nor a ${row.os} template Glassdome was building)`,
      );
    }
    if (existing) {
      await onNode(job, ['qm', 'destroy', vmid, '--purge', '1'], 10 * 60_000);
      await appendEvent(ctx.db, {
        kind: 'template.cleaned-up',
        message: `removed the half-built VM ${vmid} an earlier ${row.os} template build left on ${row.node}`,
      });
    }
    const file = `${ctx.env.TEMPLATE_IMAGE_DIR}/${image.url.split('/').pop()}`;
    const storage = ctx.env.PROXMOX_STORAGE;
    await downloadImage(job, image.url, file);
    await onNode(job, [
      'qm',
      'create',
      vmid,
      '--name',
      row.name,
      '--description',
      buildMark(row.os),
      '--memory',
      '2048',
      '--cores',
      '2',
      '--net0',
      `virtio,bridge=${ctx.env.PROXMOX_BRIDGE}`,
      '--scsihw',
      'virtio-scsi-pci',
    ]);
    await onNode(job, ['qm', 'set', vmid, '--scsi0', `${storage}:0,import-from=${file}`], 30 * 60_000);
    await onNode(job, ['qm', 'set', vmid, '--ide2', `${storage}:cloudinit`]);
    await onNode(job, ['qm', 'set', vmid, '--boot', 'order=scsi0']);
    await onNode(job, ['qm', 'set', vmid, '--serial0', 'socket', '--vga', 'serial0']);
    await onNode(job, ['qm', 'set', vmid, '--agent', 'enabled=1', '--ipconfig0', 'ip=dhcp']);
    await onNode(job, ['qm', 'template', vmid]);
    const built = await existingConfig(job, row.vmid);
    await updateTemplate(ctx.db, row.id, { status: 'ready', configDigest: built?.digest ?? null });
    await appendEvent(ctx.db, { kind: 'template.built', message: `built template ${vmid} (${row.os}) on ${row.node}` });
    return { vmid: row.vmid, built: true };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const final = !context || isFinalAttempt(error, context.job);
    // Not final: the row says what went wrong while it stays `building` for the next attempt.
    await updateTemplate(ctx.db, row.id, { status: final ? 'failed' : 'building', error: message });
    throw error;
  }
}
