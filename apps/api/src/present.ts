import type { ListedStep, listLabs, listSteps, listVmsOfLab } from '@glassdome/db';
import { Redactor } from './redact';

/**
 * A time as read: a Date, or the same instant as the text JSON prints for it (the VM list reads its
 * times so, listStandaloneVms). Either way the answer carries the same text.
 */
type Time = Date | string;
const msOf = (time: Time) => (typeof time === 'string' ? Date.parse(time) : time.getTime());

type StepRow = Awaited<ReturnType<typeof listSteps>>[number] | ListedStep;
type VmRow = Omit<
  Awaited<ReturnType<typeof listVmsOfLab>>[number],
  'platform_id' | 'request_id' | 'created_by' | 'observed_at' | 'created_at' | 'updated_at' | 'planned_steps'
> & { observed_at: Time | null; created_at: Time; updated_at: Time };

/** A step as the API shows it: its timings and, once finished, how long it took. */
export function presentStep(step: StepRow, redactor: Redactor = Redactor.none) {
  return {
    name: step.name,
    status: step.status,
    attempts: step.attempts,
    queuedAt: step.queued_at,
    startedAt: step.started_at,
    finishedAt: step.finished_at,
    durationMs: step.started_at && step.finished_at ? msOf(step.finished_at) - msOf(step.started_at) : undefined,
    ...(step.error ? { error: redactor.text(step.error) } : {}),
  };
}

function sizeOf(spec: unknown) {
  const fields = (spec ?? {}) as { cpus?: number; memoryMiB?: number; diskGiB?: number };
  return { cpus: fields.cpus, memoryMiB: fields.memoryMiB, diskGiB: fields.diskGiB };
}

/** A lab VM's address on each of its lab networks (the same in every copy). */
function addressesOf(spec: unknown): { network: string; address: string | null }[] {
  const networks = (spec as { networks?: { name?: unknown; ip?: unknown }[] } | null)?.networks;
  if (!Array.isArray(networks)) return [];
  return networks.map((network) => ({
    network: String(network.name),
    address: typeof network.ip === 'string' ? network.ip : null,
  }));
}

/** The cloud-init user a VM's owner logs in as (not a secret: the key is theirs). */
function loginUserOf(spec: unknown): string | undefined {
  const cloudInit = (spec as { cloudInit?: { user?: unknown } } | null)?.cloudInit;
  return typeof cloudInit?.user === 'string' && cloudInit.user ? cloudInit.user : undefined;
}

export interface VmPresentation {
  redactor?: Redactor;
  /** Guests' SSH port, shown with the VM's address so a trainee knows where to connect. */
  guestSshPort?: number;
}

/**
 * A VM as the API shows it. The stored spec is not echoed: provisioning content is the user's and
 * may hold anything, so only the sizes and the login user are shown.
 */
export function presentVm(vm: VmRow, steps: StepRow[] = [], options: VmPresentation = {}) {
  const redactor = options.redactor ?? Redactor.none;
  const user = loginUserOf(vm.spec);
  return {
    id: vm.id,
    name: vm.name,
    project: vm.project,
    os: vm.os,
    status: vm.status,
    labId: vm.lab_id,
    copy: vm.copy,
    node: vm.node,
    vmid: vm.vmid,
    ip: vm.ip,
    // How an operator or trainee reaches it: its management address (on the simulator, a loopback one).
    access: vm.ip && user ? { host: vm.ip, port: options.guestSshPort ?? 22, user } : null,
    addresses: addressesOf(vm.spec),
    ...sizeOf(vm.spec),
    desiredState: vm.desired_state,
    observedStatus: vm.observed_status,
    observedAt: vm.observed_at,
    error: redactor.text(vm.error),
    createdAt: vm.created_at,
    updatedAt: vm.updated_at,
    steps: steps.map((step) => presentStep(step, redactor)),
  };
}

type LabRow = Awaited<ReturnType<typeof listLabs>>['items'][number];

/** A lab's own fields as the API shows them, in lists and in detail. */
export function presentLab(lab: LabRow, redactor: Redactor = Redactor.none) {
  return {
    id: lab.id,
    name: lab.name,
    project: lab.project,
    status: lab.status,
    copies: lab.copies,
    onFailure: lab.on_failure,
    expiresAt: lab.expires_at,
    error: redactor.text(lab.error),
    createdAt: lab.created_at,
    updatedAt: lab.updated_at,
  };
}
