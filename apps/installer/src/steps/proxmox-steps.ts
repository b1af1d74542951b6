import { findTemplate, setVmPlacement } from '@glassdome/db';
import { cloneVm } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { loginUser, templateFromEnv } from '../vm-spec';
import { agentAnswer, rebootBeforeAgentWait } from './agent-retry';

const leaseTtlMs = 30 * 60_000;

/** The name the VM carries in Proxmox: the request's for a single VM, prefixed per lab copy otherwise. */
export function proxmoxName(vm: VmRow): string {
  if (!vm.lab_id) return vm.name;
  return `gd-${vm.lab_id.slice(0, 8)}-c${vm.copy ?? 0}-${vm.name}`.slice(0, 63);
}

export async function reserveVmid(ctx: InstallerContext, vm: VmRow) {
  const vmid = await ctx.vmids.allocateVmid({ platformId: DEFAULT_PLATFORM, owner: vm.id, ttlMs: leaseTtlMs });
  await setVmPlacement(ctx.db, vm.id, { vmid });
  vm.vmid = vmid;
  return { vmid };
}

export async function cloneFromTemplate(ctx: InstallerContext, vm: VmRow) {
  const sourceVmid = await resolveTemplate(ctx, vm);
  const cloned = await cloneVm(
    { pve: ctx.pve, vmids: ctx.vmids, admission: ctx.admission, logger: ctx.logger },
    {
      platformId: DEFAULT_PLATFORM,
      owner: vm.id,
      sourceVmid,
      name: proxmoxName(vm),
      storage: ctx.env.PROXMOX_STORAGE,
      node: vm.node,
      full: ctx.env.CLONE_FULL,
      leaseTtlMs,
      // A resumed job whose lease lapsed still recognises the VM it already made.
      ...(vm.vmid ? { recordedVmid: vm.vmid } : {}),
      description: `glassdome vm ${vm.id}${vm.lab_id ? ` lab ${vm.lab_id}` : ''}`,
      onVmid: async (vmid) => {
        if (vm.vmid !== vmid) await setVmPlacement(ctx.db, vm.id, { vmid });
        vm.vmid = vmid;
      },
    },
  );
  return { vmid: cloned.vmid, template: sourceVmid, resumed: cloned.resumed };
}

async function resolveTemplate(ctx: InstallerContext, vm: VmRow): Promise<number> {
  const found = vm.spec.os
    ? await findTemplate(ctx.db, { platformId: DEFAULT_PLATFORM, node: vm.node, os: vm.spec.os })
    : undefined;
  const built = found?.status === 'ready' ? found : undefined;
  const vmid =
    typeof vm.spec.template === 'number'
      ? vm.spec.template
      : (built?.vmid ?? templateFromEnv(vm.spec, ctx.env.TEMPLATE_VMIDS));
  if (vmid === undefined)
    throw new PermanentError(
      `no template for ${vm.spec.os ?? 'this VM'}: build one (POST /templates) or set TEMPLATE_VMIDS`,
    );
  return vmid;
}

export async function configure(ctx: InstallerContext, vm: VmRow, bridge: string, tag: number | undefined) {
  const spec = vm.spec;
  const ip = spec.network?.ip && spec.network.ip !== 'dhcp' ? spec.network.ip : undefined;
  const ipconfig = ip ? `ip=${ip}${spec.network?.gateway ? `,gw=${spec.network.gateway}` : ''}` : 'ip=dhcp';
  const current = await ctx.pve.vms.config(vm.vmid!, vm.node);
  const model = String(current.raw.net0 ?? 'virtio').split(',')[0];
  await ctx.pve.vms.updateConfig(
    vm.vmid!,
    {
      cores: spec.cpus,
      memory: spec.memoryMiB,
      ciuser: loginUser(vm.spec),
      sshKeys: [...(spec.cloudInit?.sshKeys ?? []), ctx.guestKey.publicKey],
      ipconfig0: ipconfig,
      net0: `${model},bridge=${bridge}${tag ? `,tag=${tag}` : ''}`,
      agent: 'enabled=1',
      tags: ['glassdome'],
    },
    vm.node,
  );
  return { bridge, tag: tag ?? null, ipconfig };
}

export async function start(ctx: InstallerContext, vm: VmRow) {
  const status = await ctx.pve.vms.status(vm.vmid!, vm.node);
  if (status.status === 'running') return { alreadyRunning: true };
  await ctx.admission.withNodeSlot(
    vm.node,
    async () => {
      const upid = await ctx.pve.vms.start(vm.vmid!, vm.node);
      await ctx.pve.tasks.wait(upid, { deadlineMs: 300_000 });
    },
    ctx.pve.client.signal,
  );
  return { alreadyRunning: false };
}

/**
 * Waits for the guest agent's IP. An agent that did not answer on the previous attempt will not start
 * by itself in a guest that is already up, so that attempt's failure (its recorded error) makes this
 * one reboot the VM first; any other failure (an outage, a timeout, a crash) does not.
 */
export async function waitForAgent(ctx: InstallerContext, vm: VmRow, previousError?: string | null) {
  if (rebootBeforeAgentWait(previousError)) {
    const status = await ctx.pve.vms.status(vm.vmid!, vm.node);
    const upid =
      status.status === 'running'
        ? await ctx.pve.vms.reboot(vm.vmid!, vm.node)
        : await ctx.pve.vms.start(vm.vmid!, vm.node);
    await ctx.pve.tasks.wait(upid, { deadlineMs: 300_000 });
  }
  const found = await agentAnswer(vm.vmid!, () =>
    ctx.pve.agent.waitForIp(vm.vmid!, {
      node: vm.node,
      deadlineMs: ctx.env.AGENT_TIMEOUT_SECONDS * 1000,
    }),
  );
  await setVmPlacement(ctx.db, vm.id, { ip: found.ip });
  vm.ip = found.ip;
  // A key recorded for this address belonged to an earlier VM that had it: this guest is new.
  await ctx.hostKeys.forget(found.ip, ctx.env.GUEST_SSH_PORT);
  return { ip: found.ip };
}
