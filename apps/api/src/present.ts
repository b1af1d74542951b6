import type { listLabs, listSteps, listVmsOfLab } from '@glassdome/db';

type StepRow = Awaited<ReturnType<typeof listSteps>>[number];
type VmRow = Awaited<ReturnType<typeof listVmsOfLab>>[number];

/** A step as the API shows it: its timings and, once finished, how long it took. */
export function presentStep(step: StepRow) {
  return {
    name: step.name,
    status: step.status,
    attempts: step.attempts,
    queuedAt: step.queued_at,
    startedAt: step.started_at,
    finishedAt: step.finished_at,
    durationMs:
      step.started_at && step.finished_at ? step.finished_at.getTime() - step.started_at.getTime() : undefined,
    ...(step.error ? { error: step.error } : {}),
  };
}

function sizeOf(spec: unknown) {
  const fields = (spec ?? {}) as { cpus?: number; memoryMiB?: number; diskGiB?: number };
  return { cpus: fields.cpus, memoryMiB: fields.memoryMiB, diskGiB: fields.diskGiB };
}

/**
 * A VM as the API shows it. The stored spec is not echoed: provisioning content is the user's and
 * may hold anything, so only the sizes are shown.
 */
export function presentVm(vm: VmRow, steps: StepRow[] = []) {
  return {
    id: vm.id,
    name: vm.name,
    os: vm.os,
    status: vm.status,
    labId: vm.lab_id,
    copy: vm.copy,
    node: vm.node,
    vmid: vm.vmid,
    ip: vm.ip,
    ...sizeOf(vm.spec),
    desiredState: vm.desired_state,
    observedStatus: vm.observed_status,
    observedAt: vm.observed_at,
    error: vm.error,
    createdAt: vm.created_at,
    updatedAt: vm.updated_at,
    steps: steps.map(presentStep),
  };
}

type LabRow = Awaited<ReturnType<typeof listLabs>>[number];

/** A lab's own fields as the API shows them, in lists and in detail. */
export function presentLab(lab: LabRow) {
  return {
    id: lab.id,
    name: lab.name,
    status: lab.status,
    copies: lab.copies,
    onFailure: lab.on_failure,
    expiresAt: lab.expires_at,
    error: lab.error,
    createdAt: lab.created_at,
    updatedAt: lab.updated_at,
  };
}
