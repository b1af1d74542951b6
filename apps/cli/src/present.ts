import { type Column, renderTable } from './table';

/** A step as the API shows it. */
export interface StepView {
  name: string;
  status: string;
  attempts: number;
  startedAt?: string | null;
  finishedAt?: string | null;
  durationMs?: number;
  error?: string;
}

/** A VM as the API shows it (the fields the CLI reads). */
export interface VmView {
  id: string;
  name: string;
  os: string;
  status: string;
  ip?: string | null;
  vmid?: number | null;
  node?: string | null;
  labId?: string | null;
  /** A lab VM's copy, from 0. */
  copy?: number | null;
  error?: string | null;
  steps: StepView[];
}

export const VM_COLUMNS: Column<VmView>[] = [
  { header: 'id', cell: (vm) => vm.id },
  { header: 'name', cell: (vm) => vm.name },
  { header: 'os', cell: (vm) => vm.os },
  { header: 'status', cell: (vm) => vm.status },
  { header: 'vmid', cell: (vm) => vm.vmid },
  { header: 'ip', cell: (vm) => vm.ip },
];

const STEP_COLUMNS: Column<StepView>[] = [
  { header: 'step', cell: (step) => step.name },
  { header: 'status', cell: (step) => step.status },
  { header: 'attempts', cell: (step) => step.attempts },
  {
    header: 'took',
    cell: (step) => (step.durationMs === undefined ? undefined : `${(step.durationMs / 1000).toFixed(1)}s`),
  },
  { header: 'error', cell: (step) => step.error },
];

export function stepTable(steps: readonly StepView[]): string[] {
  return renderTable(steps, STEP_COLUMNS);
}

/** `key: value` lines for a record's headline fields, blanks shown as '-'. */
export function fieldLines(fields: Record<string, unknown>): string[] {
  const width = Math.max(...Object.keys(fields).map((key) => key.length));
  return Object.entries(fields).map(
    ([key, value]) =>
      `${`${key}:`.padEnd(width + 2)}${value === null || value === undefined || value === '' ? '-' : value}`,
  );
}

/** The step a VM is at now: the running one, else the first not done, else the last. */
export function currentStep(steps: readonly StepView[]): StepView | undefined {
  return (
    steps.find((step) => step.status === 'running') ??
    steps.find((step) => step.status !== 'done') ??
    steps[steps.length - 1]
  );
}
