import { appendEvent, getTemplate, updateTemplate } from '@glassdome/db';
import type { OsName } from '@glassdome/lab';
import { PermanentError } from '@glassdome/queue';
import type { GatewayContext } from './context';
import { onNode } from './node-shell';
import { OS_IMAGES } from './os-images';

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

/**
 * Builds an OS template on the node over SSH (Proxmox's cloud-init recipe: create, import the cloud
 * image, cloud-init drive, serial console, guest agent, template). Idempotent: a template already at
 * the VMID is reported, not rebuilt; a non-template VM there is an error, never overwritten.
 */
export async function createTemplate(ctx: GatewayContext, templateId: string) {
  const row = await getTemplate(ctx.db, templateId);
  if (!row) throw new PermanentError(`template ${templateId} does not exist`);
  const image = OS_IMAGES[row.os as OsName];
  if (!image) throw new PermanentError(`no cloud image known for ${row.os}`);
  const vmid = String(row.vmid);
  await updateTemplate(ctx.db, row.id, { status: 'building', error: null });
  try {
    const existing = await existingConfig(ctx, row.vmid);
    if (existing && existing.template !== '1') throw new PermanentError(`VM ${vmid} exists and is not a template`);
    if (existing) {
      await updateTemplate(ctx.db, row.id, { status: 'ready', configDigest: existing.digest ?? null });
      await appendEvent(ctx.db, {
        kind: 'template.exists',
        message: `template ${vmid} (${row.os}) already exists on ${row.node}`,
      });
      return { vmid: row.vmid, built: false };
    }
    const file = `${ctx.env.TEMPLATE_IMAGE_DIR}/${image.url.split('/').pop()}`;
    const storage = ctx.env.PROXMOX_STORAGE;
    await onNode(ctx, ['mkdir', '-p', ctx.env.TEMPLATE_IMAGE_DIR]);
    await onNode(ctx, ['wget', '-q', '-O', file, image.url], 60 * 60_000);
    await onNode(ctx, [
      'qm',
      'create',
      vmid,
      '--name',
      row.name,
      '--memory',
      '2048',
      '--cores',
      '2',
      '--net0',
      `virtio,bridge=${ctx.env.PROXMOX_BRIDGE}`,
      '--scsihw',
      'virtio-scsi-pci',
    ]);
    await onNode(ctx, ['qm', 'set', vmid, '--scsi0', `${storage}:0,import-from=${file}`], 30 * 60_000);
    await onNode(ctx, ['qm', 'set', vmid, '--ide2', `${storage}:cloudinit`]);
    await onNode(ctx, ['qm', 'set', vmid, '--boot', 'order=scsi0']);
    await onNode(ctx, ['qm', 'set', vmid, '--serial0', 'socket', '--vga', 'serial0']);
    await onNode(ctx, ['qm', 'set', vmid, '--agent', 'enabled=1', '--ipconfig0', 'ip=dhcp']);
    await onNode(ctx, ['qm', 'template', vmid]);
    const built = await existingConfig(ctx, row.vmid);
    await updateTemplate(ctx.db, row.id, { status: 'ready', configDigest: built?.digest ?? null });
    await appendEvent(ctx.db, { kind: 'template.built', message: `built template ${vmid} (${row.os}) on ${row.node}` });
    return { vmid: row.vmid, built: true };
  } catch (error) {
    await updateTemplate(ctx.db, row.id, {
      status: 'failed',
      error: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
}
