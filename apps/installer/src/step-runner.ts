import type { JsonValue } from '@glassdome/db';
import { appendEvent, finishStep, listSteps, type StepOwner, startStep } from '@glassdome/db';
import type { InstallerContext } from './context';

/**
 * Runs the named steps of one owner in order, skipping those already done, so a job that crashed
 * (or was handed back) resumes at the first step not done. Each step's start, end and error are
 * recorded in Postgres and the event timeline.
 */
export async function runSteps(
  ctx: InstallerContext,
  owner: StepOwner & { vmId: string },
  steps: { name: string; run: (previousAttempts: number) => Promise<JsonValue | undefined> }[],
  signal: AbortSignal,
): Promise<void> {
  const recorded = new Map((await listSteps(ctx.db, owner)).map((s) => [s.name, s]));
  for (const step of steps) {
    const before = recorded.get(step.name);
    if (before?.status === 'done') continue;
    signal.throwIfAborted();
    await startStep(ctx.db, owner, step.name);
    await appendEvent(ctx.db, { ...eventOwner(owner), kind: 'vm.step.started', message: `${step.name} started` });
    try {
      const detail = await step.run(before?.attempts ?? 0);
      await finishStep(ctx.db, owner, step.name, { status: 'done', ...(detail === undefined ? {} : { detail }) });
      await appendEvent(ctx.db, { ...eventOwner(owner), kind: 'vm.step.done', message: `${step.name} done` });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await finishStep(ctx.db, owner, step.name, { status: 'failed', error: message });
      await appendEvent(ctx.db, {
        ...eventOwner(owner),
        kind: 'vm.step.failed',
        message: `${step.name} failed: ${message}`,
      });
      throw error;
    }
  }
}

function eventOwner(owner: StepOwner) {
  return { vmId: owner.vmId ?? null, labId: owner.labId ?? null };
}
