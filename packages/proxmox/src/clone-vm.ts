/**
 * Cloning a template into a new VM the way Proxmox needs it done under load: a leased VMID, admission
 * (storage and node slots), the clone task awaited, transient failures retried, an id someone else took
 * replaced by a new one, and a resumed job finding the VM its crashed predecessor already made.
 */
import type { Logger } from '@glassdome/logger';
import type { Admission } from './admission';
import { AlreadyExistsError, NotFoundError, TaskFailedError } from './errors';
import { pollUntil } from './poll';
import type { Proxmox } from './proxmox';
import { defaultRetryPolicy, type RetryPolicy, withRetry } from './retry';
import type { VmidAllocator } from './vmid';

export interface CloneVmDeps {
  pve: Proxmox;
  vmids: VmidAllocator;
  /** Without it, clones are not throttled (only for tests that show why it exists). */
  admission?: Admission;
  logger?: Logger;
}

export interface CloneVmRequest {
  platformId: string;
  /** Lease owner: a stable id of the job or VM record, so a retried job finds its lease. */
  owner: string;
  sourceVmid: number;
  /** The new VM's name (a DNS name); also how a resumed job recognises its own VM. */
  name: string;
  /** Storage the clone writes to (the template's for linked clones). */
  storage: string;
  /** @defaultValue the client's node */
  node?: string;
  /** @defaultValue true */
  full?: boolean;
  pool?: string;
  description?: string;
  /**
   * Lease lifetime, renewed at a third of it while the clone runs.
   * @defaultValue 900000
   */
  leaseTtlMs?: number;
  /**
   * Deadline of the clone task.
   * @defaultValue 600000
   */
  taskDeadlineMs?: number;
  /** Retries of a clone whose task failed transiently (storage lock timeout…). @defaultValue the client's */
  retry?: Partial<RetryPolicy>;
  /** Called with the leased id before the clone starts, to record it durably. */
  onVmid?: (vmid: number) => Promise<void> | void;
  /**
   * The id an earlier attempt recorded (through `onVmid`): looked at first, so a job resumed after its
   * lease lapsed still finds its VM instead of making a second one.
   */
  recordedVmid?: number;
  /**
   * No clone was ever submitted for this owner (its first try): nothing of ours can stand at the
   * leased id, so it is cloned to without a look first; a VM someone else put there meanwhile fails
   * the clone, and another id is leased.
   * @defaultValue false
   */
  firstAttempt?: boolean;
}

export interface ClonedVm {
  vmid: number;
  node: string;
  /** The clone task, absent when an earlier attempt had already made the VM. */
  upid: string | undefined;
  /** True when the VM was found already made by an earlier attempt of the same owner. */
  resumed: boolean;
}

/** Ids taken by someone else in a row before giving up; each costs one clone POST. */
const maxForeignIds = 5;

export async function cloneVm(deps: CloneVmDeps, request: CloneVmRequest): Promise<ClonedVm> {
  const node = request.node ?? deps.pve.client.node;
  const lease = { platformId: request.platformId, owner: request.owner, ttlMs: request.leaseTtlMs ?? 900_000 };
  // The recorded id is usually the one the owner's lease still holds (the `reserve-vmid` step took
  // it): what was seen there needs no second look. Should another VM appear there in between, the
  // clone POST finds it taken, and the loop below leases another id.
  let seen: { vmid: number; state: 'free' | 'foreign' } | undefined;
  // On a first try the first leased id is cloned to without a look.
  let look = !request.firstAttempt;
  if (look && request.recordedVmid !== undefined) {
    const recorded = await inspectExisting(deps.pve, node, request.recordedVmid, request);
    if (recorded === 'ours') return { vmid: request.recordedVmid, node, upid: undefined, resumed: true };
    seen = { vmid: request.recordedVmid, state: recorded };
  }
  for (let attempt = 0; attempt < maxForeignIds; attempt++) {
    deps.pve.client.signal?.throwIfAborted();
    // Only the first try of a first attempt takes the id its reservation handed off.
    const vmid = await deps.vmids.allocateVmid({ ...lease, takeHandOff: request.firstAttempt && attempt === 0 });
    const existing = !look
      ? 'free'
      : seen?.vmid === vmid
        ? seen.state
        : await inspectExisting(deps.pve, node, vmid, request);
    seen = undefined;
    look = true;
    if (existing === 'ours') return { vmid, node, upid: undefined, resumed: true };
    if (existing === 'foreign') {
      await deps.vmids.releaseVmid({ ...lease, vmid, taken: true });
      continue;
    }
    await request.onVmid?.(vmid);
    const renewal = setInterval(() => {
      deps.vmids.renewLease({ ...lease, vmid }).catch((error: Error) => {
        deps.logger?.warn({ vmid, err: error.message }, 'VMID lease renewal failed');
      });
    }, lease.ttlMs / 3);
    try {
      const upid = await cloneWithRetries(deps, request, node, vmid);
      return { vmid, node, upid, resumed: false };
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      deps.logger?.info({ vmid, owner: request.owner }, 'VMID taken outside Glassdome; leasing another');
      await deps.vmids.releaseVmid({ ...lease, vmid, taken: true });
    } finally {
      clearInterval(renewal);
    }
  }
  throw new AlreadyExistsError(`clone of ${request.name}: ${maxForeignIds} leased VMIDs in a row were taken by others`);
}

/**
 * PVE's refusal of a clone onto an id another guest holds: at once when that guest's config is on the
 * clone's node (`config file already exists`), in the task when it is elsewhere in the cluster (the
 * worker's first write of the new config, which pmxcfs refuses for an id the cluster already lists).
 * Either way nothing of the clone is left, and the id is someone else's.
 */
function isAlreadyExists(error: unknown): boolean {
  return (
    error instanceof AlreadyExistsError ||
    (error instanceof TaskFailedError && error.reason instanceof AlreadyExistsError)
  );
}

async function cloneWithRetries(deps: CloneVmDeps, request: CloneVmRequest, node: string, vmid: number) {
  const full = request.full ?? true;
  const attemptClone = async () => {
    const upid = await deps.pve.vms.clone(
      {
        sourceVmid: request.sourceVmid,
        newid: vmid,
        name: request.name,
        full,
        storage: full ? request.storage : undefined,
        pool: request.pool,
        description: request.description,
      },
      node,
    );
    await deps.pve.tasks.wait(upid, { deadlineMs: request.taskDeadlineMs ?? 600_000 });
    return upid;
  };
  const signal = deps.pve.client.signal;
  const slotted = () =>
    deps.admission
      ? deps.admission.withCloneSlot({ node, storage: request.storage, full }, attemptClone, signal)
      : attemptClone();
  // A failed clone task leaves nothing behind (PVE removes the new config), so the same id is reused.
  return withRetry(slotted, {
    policy: { ...defaultRetryPolicy, ...request.retry },
    idempotent: false,
    ...(signal ? { signal } : {}),
    onRetry: (error, retryAttempt, delayMs) =>
      deps.logger?.warn({ vmid, attempt: retryAttempt, delayMs, err: error.message }, 'retrying clone'),
  });
}

/**
 * What stands at `vmid` now: nothing (`free`), the VM an earlier attempt of this owner made (`ours`,
 * recognised by name once any clone in progress has finished), or someone else's VM (`foreign`).
 */
async function inspectExisting(
  pve: Proxmox,
  node: string,
  vmid: number,
  request: CloneVmRequest,
): Promise<'free' | 'ours' | 'foreign'> {
  const settled = await pollUntil(
    async () => {
      try {
        const config = await pve.vms.config(vmid, node);
        return config.lock === 'clone' ? undefined : config;
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
    },
    {
      what: `clone in progress on VM ${vmid}`,
      deadlineMs: request.taskDeadlineMs ?? 600_000,
      polling: pve.client.polling,
      signal: pve.client.signal,
    },
  );
  if (settled === null) return 'free';
  return settled.name === request.name ? 'ours' : 'foreign';
}
