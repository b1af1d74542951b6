/**
 * Why a lab or VM failed, from what the API shows: the failing step of each failed VM (its error,
 * attempts and timings), the lab's own failed tasks, the events and alerts about them, and the
 * remedies Glassdome knows for that kind of failure, as data an assistant can act on (each remedy
 * names the tool or API call that applies it).
 */
import type { Alert, LabDetail, StepView, VmDetail } from '../api/client';
import type { LabEvent } from '../api/events';

export type FailureKind =
  | 'guest-agent'
  | 'permission'
  | 'template'
  | 'ssh'
  | 'quota'
  | 'timeout'
  | 'proxmox'
  | 'unknown';

export interface StepTiming {
  name: string;
  status: string;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs?: number;
}

export interface VmFailure {
  vmId: string;
  name: string;
  copy: number | null;
  vmid: number | null;
  status: string;
  kind: FailureKind;
  /** The step that failed (or is stuck with an error), if any step did. */
  failingStep: (StepTiming & { error?: string }) | null;
  error: string | null;
  /** Every step of the VM, in order, with its timings. */
  steps: StepTiming[];
}

export interface Remedy {
  kind: 'retry' | 'permission-repair' | 'template-build' | 'check-template' | 'raise-quota' | 'redeploy';
  summary: string;
  /** The MCP tool that applies it, with its arguments (acting tools ask for confirmation first). */
  tool?: { name: string; arguments: Record<string, unknown> };
  /** The API call behind it. */
  api?: { method: string; path: string; body?: unknown };
  /** The least role that may apply it. */
  role: 'operator' | 'admin';
}

export interface Explanation {
  subject: { kind: 'lab' | 'vm'; id: string; name: string; status: string; error: string | null };
  failed: boolean;
  summary: string;
  vms: VmFailure[];
  /** The lab's own tasks (networks, isolation check, …) that failed. */
  tasks: (StepTiming & { error?: string })[];
  events: LabEvent[];
  alerts: Pick<Alert, 'id' | 'kind' | 'severity' | 'subject' | 'message' | 'state'>[];
  remedies: Remedy[];
}

const FAILED_LAB = new Set(['failed', 'degraded']);

const CLASSIFIERS: [FailureKind, RegExp][] = [
  ['quota', /quota/i],
  ['permission', /permission|privilege|\b403\b|not allowed|forbidden/i],
  ['template', /template/i],
  ['guest-agent', /guest agent|agent never|agent did not|qemu-guest-agent|no IP|\bIP address/i],
  ['ssh', /\bssh\b|host key|ECONNREFUSED|handshake/i],
  ['timeout', /timed? ?out|deadline/i],
  ['proxmox', /proxmox|\bPVE\b|\b5\d\d\b/i],
];

export function classifyError(text: string | null | undefined): FailureKind {
  if (!text) return 'unknown';
  return CLASSIFIERS.find(([, pattern]) => pattern.test(text))?.[0] ?? 'unknown';
}

function timing(step: StepView): StepTiming & { error?: string } {
  return {
    name: step.name,
    status: step.status,
    attempts: step.attempts,
    startedAt: step.startedAt,
    finishedAt: step.finishedAt,
    ...(step.durationMs !== undefined ? { durationMs: step.durationMs } : {}),
    ...(step.error ? { error: step.error } : {}),
  };
}

function failingStepOf(steps: StepView[]): StepView | undefined {
  return (
    steps.find((step) => step.status === 'failed') ??
    steps.find((step) => step.status === 'running' && step.error) ??
    steps.findLast((step) => Boolean(step.error))
  );
}

type VmView = VmDetail;

function vmFailure(vm: VmView): VmFailure | undefined {
  const failing = failingStepOf(vm.steps);
  if (vm.status !== 'failed' && !failing) return undefined;
  const error = failing?.error ?? vm.error ?? null;
  return {
    vmId: vm.id,
    name: vm.name,
    copy: vm.copy,
    vmid: vm.vmid,
    status: vm.status,
    kind: classifyError(error ?? vm.error),
    failingStep: failing ? timing(failing) : null,
    error: vm.error ?? failing?.error ?? null,
    steps: vm.steps.map(({ name, status, attempts, startedAt, finishedAt, durationMs }) => ({
      name,
      status,
      attempts,
      startedAt,
      finishedAt,
      ...(durationMs !== undefined ? { durationMs } : {}),
    })),
  };
}

/** `Proxmox refused VM.Clone on /vms/9000` → the privilege and path, when the error names them. */
function missingGrant(text: string | null): { privilege: string; path: string } | undefined {
  const match = text?.match(/([A-Z][A-Za-z]+\.[A-Za-z.]+)[^/]{0,40}?\bon\s+(\/[\w/.-]*)/);
  return match ? { privilege: match[1]!, path: match[2]! } : undefined;
}

function osOfTemplateError(text: string | null): string | undefined {
  return text?.match(/\b(ubuntu-\d\d\.\d\d|debian-\d+|kali)\b/)?.[1];
}

function remediesFor(
  subject: { kind: 'lab' | 'vm'; id: string; status: string },
  failures: VmFailure[],
  kinds: Set<FailureKind>,
): Remedy[] {
  const remedies: Remedy[] = [];
  const labRetry = subject.kind === 'lab' && FAILED_LAB.has(subject.status);
  if (kinds.has('template')) {
    const os = failures.map((failure) => osOfTemplateError(failure.error)).find(Boolean);
    remedies.push({
      kind: 'template-build',
      summary: `build the missing OS template${os ? ` for ${os}` : ''} on the node, then retry`,
      api: { method: 'POST', path: '/api/v1/templates', body: os ? { os } : { os: '<the VM’s os>' } },
      role: 'operator',
    });
  }
  if (kinds.has('permission')) {
    const grant = failures.map((failure) => missingGrant(failure.error)).find(Boolean);
    remedies.push({
      kind: 'permission-repair',
      summary:
        'Proxmox refused a privilege to Glassdome’s token. On a retry Glassdome grants a missing clone right on a template it registered by itself; for anything else an admin grants exactly the privilege named in the error',
      api: {
        method: 'POST',
        path: '/api/v1/permissions',
        body: {
          principal: '<Glassdome’s token id>',
          path: grant?.path ?? '<path>',
          privileges: [grant?.privilege ?? '<privilege>'],
        },
      },
      role: 'admin',
    });
  }
  if (kinds.has('guest-agent')) {
    remedies.push({
      kind: 'check-template',
      summary:
        'the guest agent never answered: the template must have qemu-guest-agent installed and enabled (agent: 1); a retry reboots the VM before it waits again',
      role: 'operator',
    });
  }
  if (kinds.has('quota')) {
    remedies.push({
      kind: 'raise-quota',
      summary:
        'the project is over a quota: destroy labs it no longer needs, or ask an admin to raise the quota named in the error',
      role: 'admin',
    });
  }
  if (labRetry) {
    remedies.push({
      kind: 'retry',
      summary: 'retry the lab: only what failed (and what waited on it) runs again; finished steps are kept',
      tool: { name: 'retry_lab', arguments: { labId: subject.id } },
      api: { method: 'POST', path: `/api/v1/labs/${subject.id}/retry` },
      role: 'operator',
    });
  }
  if (subject.kind === 'vm' && subject.status === 'failed') {
    remedies.push({
      kind: 'redeploy',
      summary: 'a standalone VM is not retried in place: destroy it and deploy it again',
      tool: { name: 'destroy_vm', arguments: { vmId: subject.id } },
      api: { method: 'DELETE', path: `/api/v1/vms/${subject.id}` },
      role: 'operator',
    });
  }
  return remedies;
}

function relatedAlerts(
  alerts: Alert[],
  vms: { id: string; vmid: number | null }[],
  labId?: string,
): Explanation['alerts'] {
  const subjects = new Set(vms.flatMap((vm) => [`vm/${vm.id}`, ...(vm.vmid ? [`vmid/${vm.vmid}`] : [])]));
  if (labId) subjects.add(`lab/${labId}`);
  return alerts
    .filter(
      (alert) =>
        subjects.has(alert.subject) || (labId !== undefined && (alert as { lab_id?: unknown }).lab_id === labId),
    )
    .map(({ id, kind, severity, subject, message, state }) => ({ id, kind, severity, subject, message, state }));
}

const NOTABLE_EVENT = /fail|error|refused|missing|retry|timeout|cancel|permission|degraded/i;

function relatedEvents(events: LabEvent[], vmIds: Set<string>, limit: number): LabEvent[] {
  return events
    .filter((event) => (event.vmId && vmIds.has(event.vmId)) || NOTABLE_EVENT.test(`${event.kind} ${event.message}`))
    .slice(-limit);
}

function summaryOf(subject: Explanation['subject'], failures: VmFailure[], tasks: Explanation['tasks']): string {
  if (failures.length === 0 && tasks.length === 0) {
    return `${subject.kind} ${subject.name} is ${subject.status}; no step failed`;
  }
  const parts = failures.map(
    (failure) =>
      `${failure.name}${failure.copy !== null ? ` (copy ${failure.copy})` : ''} failed at ${failure.failingStep?.name ?? 'an unknown step'} after ${failure.failingStep?.attempts ?? 0} attempt(s): ${failure.error ?? 'no error recorded'}`,
  );
  for (const task of tasks) parts.push(`task ${task.name} failed: ${task.error ?? 'no error recorded'}`);
  return `${subject.kind} ${subject.name} is ${subject.status}. ${parts.join('; ')}`;
}

export function explainLab(lab: LabDetail, events: LabEvent[], alerts: Alert[], eventLimit = 30): Explanation {
  const failures = lab.vms.map(vmFailure).filter((failure): failure is VmFailure => failure !== undefined);
  const vmStepNames = new Set(lab.vms.flatMap((vm) => vm.steps.map((step) => step.name)));
  const tasks = lab.steps.filter((step) => step.status === 'failed' && !vmStepNames.has(step.name)).map(timing);
  const kinds = new Set([
    ...failures.map((failure) => failure.kind),
    ...tasks.map((task) => classifyError(task.error)),
    classifyError(lab.error),
  ]);
  const subject = { kind: 'lab' as const, id: lab.id, name: lab.name, status: lab.status, error: lab.error };
  return {
    subject,
    failed: FAILED_LAB.has(lab.status) || failures.length > 0 || tasks.length > 0,
    summary: summaryOf(subject, failures, tasks),
    vms: failures,
    tasks,
    events: relatedEvents(events, new Set(failures.map((failure) => failure.vmId)), eventLimit),
    alerts: relatedAlerts(alerts, lab.vms, lab.id),
    remedies: remediesFor(subject, failures, kinds),
  };
}

export function explainVm(vm: VmDetail, events: LabEvent[], alerts: Alert[], eventLimit = 30): Explanation {
  const failure = vmFailure(vm);
  const failures = failure ? [failure] : [];
  const subject = { kind: 'vm' as const, id: vm.id, name: vm.name, status: vm.status, error: vm.error };
  return {
    subject,
    failed: failures.length > 0,
    summary: summaryOf(subject, failures, []),
    vms: failures,
    tasks: [],
    events: relatedEvents(events, new Set([vm.id]), eventLimit).filter((event) => !event.vmId || event.vmId === vm.id),
    alerts: relatedAlerts(alerts, [vm]),
    remedies: remediesFor(subject, failures, new Set(failures.map((item) => item.kind))),
  };
}
