import type { Step } from './pipeline';

/**
 * Steps whose side effect cannot be withdrawn once submitted: Proxmox finishes a clone whatever the
 * job does next, so a deploy stopped meanwhile (its VM destroyed, its lab cancelled) lets the clone
 * land and be recorded, and the tear-down then finds and deletes it instead of missing it.
 */
const MUST_LAND = new Set(['clone']);

export function shieldSteps(steps: Step[], shield: <T>(work: () => Promise<T>) => Promise<T>): Step[] {
  return steps.map((step) =>
    MUST_LAND.has(step.name) ? { ...step, run: (previousAttempts) => shield(() => step.run(previousAttempts)) } : step,
  );
}
