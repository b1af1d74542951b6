/**
 * The only writers of a lab's or VM's status. Each applies one named transition from
 * `@glassdome/lab`'s state machines as a single conditional UPDATE and says whether it took effect,
 * so a caller that lost a race learns it instead of overwriting the winner.
 *
 * A VM that fails (for good: nothing retries a `failed` VM but a new request) gives up its VMID
 * lease here, whichever path failed it. The lease only reserves an id until the clone exists; a
 * failed VM's clone, if it exists, keeps its id taken in Proxmox itself and stays until the VM is
 * destroyed, and a retry finds it again by the VMID its row recorded.
 */
import {
  type Db,
  deleteVmidLeasesOfOwner,
  setLabStatus,
  setVmStatus,
  setVmStatusOfLab,
  type VmStatusChange,
} from '@glassdome/db';
import { LAB_TRANSITIONS, type LabTransition, VM_TRANSITIONS, type VmTransition } from '@glassdome/lab';

export interface TransitionOptions {
  /** The error to record (null clears it; absent leaves it). */
  error?: string | null;
}

export function moveLab(db: Db, labId: string, name: LabTransition, options: TransitionOptions = {}): Promise<boolean> {
  const { from, to } = LAB_TRANSITIONS[name];
  return setLabStatus(db, labId, { from, to, ...options });
}

export async function moveVm(
  db: Db,
  vmId: string,
  name: VmTransition,
  options: TransitionOptions = {},
): Promise<boolean> {
  const { from, to } = VM_TRANSITIONS[name];
  const moved = await setVmStatus(db, vmId, { from, to, ...options });
  if (moved && to === 'failed') await releaseVmidLeases(db, [vmId]);
  return moved;
}

/**
 * A VM transition as a change that a step's record applies in its own statement (`recordVmSteps`):
 * only those that do nothing more than change the status (a `fail` also releases the VMID lease).
 */
export function vmStatusChange(name: Extract<VmTransition, 'deploy' | 'ready'>): VmStatusChange {
  const { from, to } = VM_TRANSITIONS[name];
  return { from, to };
}

/** Applies a VM transition to every VM of a lab it applies to; returns the ids that moved. */
export async function moveVmsOfLab(
  db: Db,
  labId: string,
  name: VmTransition,
  options: TransitionOptions = {},
): Promise<string[]> {
  const { from, to } = VM_TRANSITIONS[name];
  const moved = await setVmStatusOfLab(db, labId, { from, to, ...options });
  if (to === 'failed') await releaseVmidLeases(db, moved);
  return moved;
}

async function releaseVmidLeases(db: Db, vmIds: readonly string[]): Promise<void> {
  for (const vmId of vmIds) await deleteVmidLeasesOfOwner(db, vmId);
}
