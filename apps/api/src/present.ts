import type { listLabs, listVmsOfLabWithSteps } from '@glassdome/db';
import { JsonText } from './json';
import { Redactor } from './redact';

/**
 * A time as read: a Date, or the same instant as the text JSON prints for it (the VM, lab and alert
 * lists read their times so). Either way the answer carries the same text.
 */
type Time = Date | string;

/** A VM as read with its steps, as the API shows them (JSON text Postgres writes, `shownStepsOfVm`). */
type VmRow = Omit<
  Awaited<ReturnType<typeof listVmsOfLabWithSteps>>[number],
  'platform_id' | 'request_id' | 'created_by' | 'observed_at' | 'created_at' | 'updated_at' | 'planned_steps'
> & { observed_at: Time | null; created_at: Time; updated_at: Time };

/**
 * Steps as the API shows them (JSON text Postgres writes) with their errors masked for the reader:
 * an error is the one field that can quote provisioning text. Most readers see everything and most
 * steps have no error, so the text is parsed only when one has and the reader's view masks.
 */
export function stepsForReader(steps: string, redactor: Redactor): JsonText {
  if (redactor === Redactor.none || !steps.includes('"error":')) return new JsonText(steps);
  const shown = JSON.parse(steps) as { error?: string }[];
  for (const step of shown) if (step.error !== undefined) step.error = redactor.text(step.error);
  return new JsonText(JSON.stringify(shown));
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
 * A VM as the API shows it, its steps last (JSON text: answer with `sendJson`). The stored spec is
 * not echoed: provisioning content is the user's and may hold anything, so only the sizes and the
 * login user are shown.
 */
export function presentVm(vm: VmRow, options: VmPresentation = {}) {
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
    steps: stepsForReader(vm.steps, redactor),
  };
}

/** A lab as read: its times as Dates (a lab's detail) or as the text JSON prints for them (the list, listLabs). */
type LabRow = Omit<
  Awaited<ReturnType<typeof listLabs>>['items'][number],
  'expires_at' | 'created_at' | 'updated_at'
> & {
  expires_at: Time | null;
  created_at: Time;
  updated_at: Time;
};

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
