import { currentStep, type VmView } from '../present';

/** A lab as `GET /labs/:id` shows it (the fields the watch reads). */
export interface LabView {
  id: string;
  name: string;
  status: string;
  error?: string | null;
  createdAt: string;
  copies?: number;
  expiresAt?: string | null;
  vms: VmView[];
}

/** States after which a lab's deployment will not move on by itself. */
export const LAB_FINAL_STATES = ['ready', 'degraded', 'failed', 'cancelled', 'destroyed'];

/** One VM's line in the watch: what it is doing and how far along it is. */
export interface VmProgress {
  id: string;
  name: string;
  status: string;
  step: string;
  stepsDone: number;
  stepsTotal: number;
  elapsedSeconds: number;
  ip: string | null;
}

function elapsedSeconds(vm: VmView, now: number): number {
  const started = vm.steps.map((step) => step.startedAt).filter((at): at is string => !!at);
  if (started.length === 0) return 0;
  const first = Math.min(...started.map((at) => Date.parse(at)));
  const finished = vm.steps.map((step) => step.finishedAt).filter((at): at is string => !!at);
  const settled = ['ready', 'failed', 'destroyed'].includes(vm.status) && finished.length > 0;
  const end = settled ? Math.max(...finished.map((at) => Date.parse(at))) : now;
  return Math.max(0, Math.round((end - first) / 1000));
}

/**
 * How the watch names a VM: with its copy's number (from 1) when the lab has several, so a class of
 * ten shows `c3 attacker`, not ten rows called "attacker".
 */
export function vmLabel(
  lab: { copies?: number | undefined; vms: readonly Pick<VmView, 'copy'>[] },
  vm: Pick<VmView, 'name' | 'copy'>,
): string {
  const copies = lab.copies ?? new Set(lab.vms.map((other) => other.copy ?? 0)).size;
  return copies > 1 && vm.copy !== undefined && vm.copy !== null ? `c${vm.copy + 1} ${vm.name}` : vm.name;
}

/** Each VM's progress at `now`, in the lab's order. */
export function vmProgress(lab: LabView, now = Date.now()): VmProgress[] {
  return lab.vms.map((vm) => {
    const step = currentStep(vm.steps);
    return {
      id: vm.id,
      name: vmLabel(lab, vm),
      status: vm.status,
      step: vm.status === 'ready' ? 'ready' : step ? `${step.name} (${step.status})` : vm.status,
      stepsDone: vm.steps.filter((s) => s.status === 'done').length,
      stepsTotal: vm.steps.length,
      elapsedSeconds: elapsedSeconds(vm, now),
      ip: vm.ip ?? null,
    };
  });
}
