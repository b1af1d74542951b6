/**
 * The only writers of a lab's or VM's status. Each applies one named transition from
 * `@glassdome/lab`'s state machines as a single conditional UPDATE and says whether it took effect,
 * so a caller that lost a race learns it instead of overwriting the winner.
 */
import { type Db, setLabStatus, setVmStatus, setVmStatusOfLab } from '@glassdome/db';
import { LAB_TRANSITIONS, type LabTransition, VM_TRANSITIONS, type VmTransition } from '@glassdome/lab';

export interface TransitionOptions {
  /** The error to record (null clears it; absent leaves it). */
  error?: string | null;
}

export function moveLab(db: Db, labId: string, name: LabTransition, options: TransitionOptions = {}): Promise<boolean> {
  const { from, to } = LAB_TRANSITIONS[name];
  return setLabStatus(db, labId, { from, to, ...options });
}

export function moveVm(db: Db, vmId: string, name: VmTransition, options: TransitionOptions = {}): Promise<boolean> {
  const { from, to } = VM_TRANSITIONS[name];
  return setVmStatus(db, vmId, { from, to, ...options });
}

/** Applies a VM transition to every VM of a lab it applies to; returns the ids that moved. */
export function moveVmsOfLab(
  db: Db,
  labId: string,
  name: VmTransition,
  options: TransitionOptions = {},
): Promise<string[]> {
  const { from, to } = VM_TRANSITIONS[name];
  return setVmStatusOfLab(db, labId, { from, to, ...options });
}
