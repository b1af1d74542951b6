import { randomBytes } from 'node:crypto';
import { appendEvent, coalesced, type Db, findTemplate, insertTemplate, setVmPlacement } from '@glassdome/db';
import { defaultTemplateVmid, type OsName } from '@glassdome/lab';
import { cloneVm, defaultRetryPolicy, type StorageInfo, toVmConfig, withRetry } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { InstallerContext } from '../context';
import type { Placement } from '../pipeline';
import type { VmRow } from '../vm-record';
import { loginUser, templateFromEnv } from '../vm-spec';
import { agentAnswer, rebootBeforeAgentWait } from './agent-retry';
import { keepConfig, learnGuestAddress, managementMac } from './guest-trust';

const leaseTtlMs = 30 * 60_000;

/** The name the VM carries in Proxmox: the request's for a single VM, prefixed per lab copy otherwise. */
export function proxmoxName(vm: VmRow): string {
  if (!vm.lab_id) return vm.name;
  return `gd-${vm.lab_id.slice(0, 8)}-c${vm.copy ?? 0}-${vm.name}`.slice(0, 63);
}

/**
 * Leases the VM's VMID. The VM's row gets it with the step's end (the pipeline's `writes`): a crash
 * before leaves the step to run again, and the lease, held by the VM, gives it the same VMID. The
 * clone that follows takes the id from the allocator's memory (`handOff`) instead of renewing the
 * lease taken a moment ago; a clone in another process, or a repeat, asks Postgres for it.
 */
export async function reserveVmid(ctx: InstallerContext, vm: VmRow) {
  const vmid = await ctx.vmids.allocateVmid({
    platformId: DEFAULT_PLATFORM,
    owner: vm.id,
    ttlMs: leaseTtlMs,
    handOff: true,
  });
  vm.vmid = vmid;
  return { vmid };
}

export async function cloneFromTemplate(ctx: InstallerContext, vm: VmRow, previousAttempts = 1) {
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
      // No clone was submitted for this VM before this attempt of the step began.
      firstAttempt: previousAttempts === 0,
      description: `glassdome vm ${vm.id}${vm.lab_id ? ` lab ${vm.lab_id}` : ''}`,
      onVmid: async (vmid) => {
        if (vm.vmid !== vmid) await setVmPlacement(ctx.db, vm.id, { vmid });
        vm.vmid = vmid;
      },
    },
  );
  return { vmid: cloned.vmid, template: sourceVmid, resumed: cloned.resumed };
}

/**
 * Which template to clone: the spec's, by VMID or by name (a template VM of that name on the node);
 * else the OS's template Glassdome built; else TEMPLATE_VMIDS; else the OS's template is built now by
 * the gateway — once, whoever asks first, every VM waiting for it shares the build — and used.
 */
async function resolveTemplate(ctx: InstallerContext, vm: VmRow, signal?: AbortSignal): Promise<number> {
  const wanted = vm.spec.template;
  if (typeof wanted === 'number') return wanted;
  if (typeof wanted === 'string') {
    const named = (await ctx.pve.cluster.resources('vm')).find(
      (resource) => resource.template && resource.name === wanted && resource.node === vm.node,
    );
    if (!named?.vmid) throw new PermanentError(`no template named ${wanted} on ${vm.node}`);
    return named.vmid;
  }
  const os = vm.spec.os;
  if (!os) throw new PermanentError('a VM without an OS profile must name its template');
  const found = await templateFor(ctx.db, { platformId: DEFAULT_PLATFORM, node: vm.node, os, project: vm.project });
  if (found?.status === 'ready') return found.vmid;
  const configured = found ? undefined : templateFromEnv(vm.spec, ctx.env.TEMPLATE_VMIDS);
  if (configured !== undefined) return configured;
  return buildTemplate(ctx, vm, os, signal);
}

type TemplateWhere = Parameters<typeof findTemplate>[1];

/**
 * The template row for `where`, read once for every VM of this process asking at once (`coalesced`:
 * a lab's clones that start together read it in one statement, not one each).
 */
const templateReads = new WeakMap<Db, (group: string, where: TemplateWhere) => ReturnType<typeof findTemplate>>();

function templateFor(db: Db, where: TemplateWhere) {
  let read = templateReads.get(db);
  if (!read) {
    read = coalesced(async (_group: string, asked: TemplateWhere[]) => {
      const row = await findTemplate(db, asked[0]!);
      return asked.map(() => row);
    });
    templateReads.set(db, read);
  }
  return read(JSON.stringify([where.platformId, where.node, where.os, where.project]), where);
}

/** Has the gateway build the OS's template (one row and one job for everyone), then waits for it. */
async function buildTemplate(ctx: InstallerContext, vm: VmRow, os: OsName, signal?: AbortSignal): Promise<number> {
  const where = { platformId: DEFAULT_PLATFORM, node: vm.node, os, project: vm.project };
  const vmidTaken = await insertTemplate(ctx.db, {
    ...where,
    vmid: defaultTemplateVmid(os),
    name: `tpl-${os.replaceAll('.', '-')}`,
  }).then(
    () => false,
    (error: { code?: string }) => {
      if (error.code === '23505') return true;
      throw error;
    },
  );
  // A conflict is either another project's template holding the VMID (then this one waits for
  // nothing it could use) or a twin: two VMs inserting this same row at once may meet on the VMID
  // index instead of the one ON CONFLICT names, and then the row is there.
  const row = await findTemplate(ctx.db, where);
  if (!row) {
    if (vmidTaken) throw new PermanentError(`no ${os} template, and VMID ${defaultTemplateVmid(os)} is taken`);
    throw new Error(`the ${os} template row vanished`);
  }
  if (row.status === 'queued') {
    // The same job id for every VM asking: BullMQ keeps one.
    await ctx.producer.enqueue('template.create', { templateId: row.id }, { jobId: `template-create.${row.id}` });
  }
  await appendEvent(ctx.db, {
    vmId: vm.id,
    labId: vm.lab_id,
    kind: 'vm.template.waiting',
    message: `no ${os} template yet: waiting for the gateway to build it`,
  });
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    signal?.throwIfAborted();
    const current = await findTemplate(ctx.db, where);
    if (current?.status === 'ready') return current.vmid;
    if (current?.status === 'failed') {
      throw new PermanentError(`the ${os} template build failed: ${current.error ?? 'no reason recorded'}`);
    }
    if (Date.now() > deadline) throw new Error(`the ${os} template is still not built after 30 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** The boot disk of a cloned VM: its key, its storage (of `<storage>:<volume>`) and its size in GiB (`size=`). */
function bootDisk(config: Record<string, string | number>): { key: string; storage: string; gib: number } | undefined {
  for (const key of ['scsi0', 'virtio0', 'sata0', 'ide0']) {
    const line = config[key];
    if (typeof line !== 'string' || line.includes('media=cdrom')) continue;
    const storage = /^([^:,]+):/.exec(line)?.[1] ?? '';
    const size = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT])?/.exec(line);
    if (!size) return { key, storage, gib: 0 };
    const factor = { K: 1 / 1024 / 1024, M: 1 / 1024, G: 1, T: 1024 }[size[2] ?? 'G'] ?? 1;
    return { key, storage, gib: Number(size[1]) * factor };
  }
  return undefined;
}

/**
 * A MAC for a NIC the clone did not have, made the way PVE makes one (random, unicast, locally
 * administered) behind the first three bytes of a MAC PVE generated for this clone, which carry the
 * cluster's `mac_prefix` when it has one (a clone gets a new MAC on every NIC it copies).
 */
function newMac(generated: string | undefined): string {
  const bytes = [...randomBytes(6)];
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  const own = bytes.map((byte) => byte.toString(16).padStart(2, '0').toUpperCase());
  const prefix =
    generated && /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/i.test(generated) ? generated.toUpperCase().split(':') : [];
  return [...prefix.slice(0, 3), ...own.slice(prefix.length === 0 ? 0 : 3)].join(':');
}

/**
 * Sizes, cloud-init user and keys, and the NICs: one per entry of `placement` (a lab VM's lab
 * networks in spec order, then its management NIC), each with its `ipconfigN`; NICs the template had
 * beyond those are removed. Each NIC is written with its MAC — the clone's for the NICs it has, a new
 * one for the others — so the config written is the config held, and later steps need not read it.
 * The boot disk grows to `diskGiB` (never shrinks), refused up front when the storage has not that
 * much free.
 */
export async function configure(ctx: InstallerContext, vm: VmRow, placement: Placement) {
  const spec = vm.spec;
  const current = await ctx.pve.vms.config(vm.vmid!, vm.node);
  const model = current.nics.net0?.model ?? 'virtio';
  const generated = Object.values(current.nics).find((nic) => nic.macaddr)?.macaddr;
  const nics: Record<string, string> = {};
  placement.nics.forEach((nic, index) => {
    const mac = current.nics[`net${index}`]?.macaddr ?? newMac(generated);
    nics[`net${index}`] =
      `${model}=${mac.toUpperCase()},bridge=${nic.bridge}${nic.tag ? `,tag=${nic.tag}` : ''}${nic.firewall ? ',firewall=1' : ''}`;
    nics[`ipconfig${index}`] = nic.ipconfig;
  });
  const stale = Object.keys(current.raw).filter((key) => /^(net|ipconfig)\d+$/.test(key) && !(key in nics));
  await ctx.pve.vms.updateConfig(
    vm.vmid!,
    {
      cores: spec.cpus,
      memory: spec.memoryMiB,
      ciuser: loginUser(vm.spec),
      sshKeys: [...spec.cloudInit.sshKeys, (await ctx.guestKeys.forVm(vm)).publicKey],
      ...nics,
      agent: 'enabled=1',
      tags: ['glassdome'],
      ...(stale.length > 0 ? { delete: stale } : {}),
    },
    vm.node,
  );
  const written: Record<string, string | number> = { ...current.raw, ...nics };
  for (const key of stale) delete written[key];
  // The firewall step and the agent wait take the NICs from here instead of reading them back.
  keepConfig(vm, toVmConfig(written));
  const disk = await growDisk(ctx, vm, current.raw);
  return { nics: placement.nics.length, managementNic: placement.managementNic, disk };
}

/** Each node's storages as read at most a second ago (by Proxmox URL and node), and when. */
const storageReads = new Map<string, { at: number; list: Promise<StorageInfo[]> }>();

/**
 * The node's storages for the free-space check before a resize: a lab's VMs grow their disks at about
 * the same time, and one read a second serves them all (the check only refuses early what the
 * resize itself would refuse). A shared read that failed — another job's, perhaps stopped by its
 * signal — is not this caller's answer: it reads for itself.
 */
async function recentStorages(ctx: InstallerContext, node: string): Promise<StorageInfo[]> {
  const key = `${ctx.env.PROXMOX_URL} ${node}`;
  const now = Date.now();
  const recent = storageReads.get(key);
  if (recent && now - recent.at <= 1000) {
    try {
      return await recent.list;
    } catch {
      ctx.pve.client.signal?.throwIfAborted();
      return ctx.pve.cluster.storages(node);
    }
  }
  const entry = { at: now, list: ctx.pve.cluster.storages(node) };
  storageReads.set(key, entry);
  entry.list.catch(() => {
    if (storageReads.get(key) === entry) storageReads.delete(key);
  });
  return entry.list;
}

async function growDisk(ctx: InstallerContext, vm: VmRow, config: Record<string, string | number>) {
  const disk = bootDisk(config);
  if (!disk || disk.gib >= vm.spec.diskGiB) return disk ? { key: disk.key, gib: disk.gib, grownFromGib: null } : null;
  const storage = (await recentStorages(ctx, vm.node)).find((s) => s.storage === ctx.env.PROXMOX_STORAGE);
  const needGib = vm.spec.diskGiB - disk.gib;
  if (storage && needGib * 1024 ** 3 > storage.availBytes) {
    throw new PermanentError(
      `diskGiB ${vm.spec.diskGiB} needs ${Math.ceil(needGib)} GiB more than the template's disk, but ${ctx.env.PROXMOX_STORAGE} has ${Math.floor(storage.availBytes / 1024 ** 3)} GiB free`,
    );
  }
  // lvextend takes the storage's lock (10 s) and nothing else of the node for long: a resize waits for
  // a slot of its (node, storage), counted with the full clones that hold that lock long, and holds
  // none of the node's operation slots, which clones and starts need. A resize that still lost the
  // lock to the clones (a failed task that changed nothing) is tried again here, outside the slot,
  // like a clone, instead of failing the whole job attempt; the size is absolute, so a repeat cannot
  // grow the disk twice.
  const signal = ctx.pve.client.signal;
  await withRetry(
    () =>
      ctx.admission.withStorageSlot(
        vm.node,
        disk.storage || ctx.env.PROXMOX_STORAGE,
        async () => {
          const upid = await ctx.pve.vms.resize(vm.vmid!, disk.key, `${vm.spec.diskGiB}G`, vm.node);
          await ctx.pve.tasks.wait(upid, { deadlineMs: 300_000 });
        },
        signal,
        'resize',
      ),
    {
      policy: defaultRetryPolicy,
      idempotent: true,
      ...(signal ? { signal } : {}),
      onRetry: (error, attempt, delayMs) =>
        ctx.logger.warn({ vmid: vm.vmid, attempt, delayMs, err: error.message }, 'retrying disk resize'),
    },
  );
  return { key: disk.key, gib: vm.spec.diskGiB, grownFromGib: disk.gib };
}

/**
 * When this process last had each VM started (the answer to its start request): the agent wait
 * that follows times its looks from it (see WaitForAgentIpOptions.since). A resumed job, which
 * started the VM in an earlier attempt, has none and times them from its own beginning.
 */
const startedAt = new WeakMap<VmRow, number>();

/**
 * Starts the VM. Only a repeat of the step asks first whether it runs already (an earlier attempt's
 * start may have landed); on its first attempt the VM is the stopped clone this deploy just made.
 */
export async function start(ctx: InstallerContext, vm: VmRow, previousAttempts = 1) {
  if (previousAttempts > 0) {
    const status = await ctx.pve.vms.status(vm.vmid!, vm.node);
    if (status.status === 'running') return { alreadyRunning: true };
  }
  await ctx.admission.withNodeSlot(
    vm.node,
    async () => {
      const upid = await ctx.pve.vms.start(vm.vmid!, vm.node);
      startedAt.set(vm, Date.now());
      await ctx.pve.tasks.wait(upid, { deadlineMs: 300_000 });
    },
    ctx.pve.client.signal,
    'start',
  );
  return { alreadyRunning: false };
}

/**
 * Waits for the guest agent's IP on the management NIC, then reads the guest's host key through the
 * agent (`learnGuestAddress`); the address and the pin are written with the step's end. An agent that did not answer on the previous attempt will not start
 * by itself in a guest that is already up, so that attempt's failure (its recorded error) makes this
 * one reboot the VM first; any other failure (an outage, a timeout, a crash) does not.
 */
export async function waitForAgent(
  ctx: InstallerContext,
  vm: VmRow,
  placement: Placement,
  previousError?: string | null,
) {
  if (rebootBeforeAgentWait(previousError)) {
    const status = await ctx.pve.vms.status(vm.vmid!, vm.node);
    const running = status.status === 'running';
    const upid = running ? await ctx.pve.vms.reboot(vm.vmid!, vm.node) : await ctx.pve.vms.start(vm.vmid!, vm.node);
    // A reboot shuts the guest down first: its agent is not due when a started guest's is.
    if (running) startedAt.delete(vm);
    else startedAt.set(vm, Date.now());
    await ctx.pve.tasks.wait(upid, { deadlineMs: 300_000 });
  }
  // Only the management NIC's address is one Glassdome may reach the guest on.
  const mac = await managementMac(ctx, vm, placement.managementNic);
  const since = startedAt.get(vm);
  startedAt.delete(vm);
  const found = await agentAnswer(vm.vmid!, () =>
    ctx.pve.agent.waitForIp(vm.vmid!, {
      node: vm.node,
      deadlineMs: ctx.env.AGENT_TIMEOUT_SECONDS * 1000,
      mac,
      ...(since === undefined ? {} : { since }),
    }),
  );
  await learnGuestAddress(ctx, vm, found.ip);
  return { ip: found.ip };
}
