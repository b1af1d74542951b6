/**
 * The re-drive sweep (`overseer.redrive`, one per platform and period): rows in a non-final state
 * that no job is working on — none live in BullMQ, none waiting in the outbox, nothing changed for the
 * grace period — get a fresh job through the outbox, or, re-driven too often without progress, fail
 * with the reason. What left them there does not matter: Redis restarted empty, a crash between two
 * writes, an outage longer than every retry, a job that timed out.
 *
 * Redis is read before Postgres: a job that appears after the read belongs to a row that changed
 * after it, and the grace period keeps that row out of this sweep.
 */
import {
  appendEvent,
  countEventsSince,
  firstFailedLabTask,
  inTransaction,
  type JsonValue,
  listPendingIntents,
  listQuietLabs,
  listQuietTemplates,
  listQuietVms,
  updateTemplate,
  withAdvisoryLock,
} from '@glassdome/db';
import {
  failStuckLab,
  failStuckVm,
  REDRIVE_EVENT,
  redriveDestroy,
  redriveLab,
  redriveVmDeploy,
  settleVmsOfStoppedLab,
  writeIntent,
} from '@glassdome/lab-run';
import { jobIntent, liveJobs, type Producer, QUEUES, type QueueName } from '@glassdome/queue';
import type { OverseerContext } from './context';

export interface RedriveSettings {
  /** Seconds a row must have shown no sign of life (and had no job) before it is re-driven. */
  graceSeconds: number;
  /** Re-drives of one row without a step finishing in between before it is failed instead. */
  maxRedrives: number;
}

export interface RedriveSummary {
  platformId: string;
  redriven: { vms: number; labs: number; destroys: number; templates: number };
  failed: { vms: number; labs: number; templates: number };
  /** Lab VMs still in flight under a failed or cancelled lab, settled with it. */
  settled: number;
}

/** Rows some job or intent refers to: `vm:<id>`, `lab:<id>`, `template:<id>`. */
type Refs = Set<string>;

function addRefs(refs: Refs, data: unknown): void {
  if (!data || typeof data !== 'object') return;
  const { vmId, labId, templateId } = data as Record<string, unknown>;
  if (typeof vmId === 'string') refs.add(`vm:${vmId}`);
  if (typeof labId === 'string') refs.add(`lab:${labId}`);
  if (typeof templateId === 'string') refs.add(`template:${templateId}`);
}

/** Every row a live job of the work queues is about. Throws while Redis is away: no guessing then. */
async function liveRefs(producer: Producer): Promise<Refs> {
  const refs: Refs = new Set();
  const queues = Object.values(QUEUES).filter((queue): queue is QueueName => queue !== 'overseer');
  for (const queue of queues) for (const job of await liveJobs(producer.queues[queue])) addRefs(refs, job.data);
  return refs;
}

function addIntentRefs(refs: Refs, intent: JsonValue): void {
  if (!intent || typeof intent !== 'object' || Array.isArray(intent)) return;
  if (intent.kind === 'lab-flow' && typeof intent.labId === 'string') refs.add(`lab:${intent.labId}`);
  else addRefs(refs, intent.payload);
}

/** Seconds a `destroying` row waits between re-drives: the grace, doubled per re-drive, at most an hour. */
function destroySpacingMs(settings: RedriveSettings, redrives: number): number {
  return Math.min(settings.graceSeconds * 1000 * 2 ** redrives, 3_600_000);
}

export async function redriveStuck(ctx: OverseerContext, platformId: string): Promise<RedriveSummary | undefined> {
  const summary = await withAdvisoryLock(ctx.db, `overseer.redrive:${platformId}`, () => sweep(ctx, platformId));
  if (!summary) return undefined;
  const { redriven, failed, settled } = summary;
  const total = Object.values(redriven).reduce((a, b) => a + b, 0) + Object.values(failed).reduce((a, b) => a + b, 0);
  if (total + settled > 0) {
    ctx.logger.warn({ ...summary }, 're-drove rows no job was working on');
    // Sends the intents now rather than on the relay's next tick.
    await ctx.relay.flush().catch(() => {});
  }
  return summary;
}

async function sweep(ctx: OverseerContext, platformId: string): Promise<RedriveSummary> {
  const settings = ctx.settings.redrive;
  const busy = await liveRefs(ctx.producer);
  for (const intent of await listPendingIntents(ctx.db)) addIntentRefs(busy, intent);
  const quiet = { platformId, quietSeconds: settings.graceSeconds };
  const summary: RedriveSummary = {
    platformId,
    redriven: { vms: 0, labs: 0, destroys: 0, templates: 0 },
    failed: { vms: 0, labs: 0, templates: 0 },
    settled: 0,
  };

  const vms = await listQuietVms(ctx.db, { ...quiet, statuses: ['queued', 'deploying', 'destroying'] });
  const stoppedLabs = new Set<string>();
  for (const vm of vms) {
    if (vm.labId) {
      if (vm.labStatus === 'failed' || vm.labStatus === 'cancelled') stoppedLabs.add(vm.labId);
      continue;
    }
    if (busy.has(`vm:${vm.id}`)) continue;
    const history = await countEventsSince(ctx.db, { kind: REDRIVE_EVENT, since: vm.lastProgress, vmId: vm.id });
    if (vm.status === 'destroying') {
      const due = !history.last || Date.now() - history.last.getTime() >= destroySpacingMs(settings, history.count);
      if (due && (await redriveDestroy(ctx.db, 'vm', vm.id, 'no tear-down job'))) summary.redriven.destroys++;
    } else if (history.count >= settings.maxRedrives) {
      const reason = `no deploy job after ${history.count} re-drives without progress`;
      if (await failStuckVm(ctx.db, vm.id, reason)) summary.failed.vms++;
    } else if (await redriveVmDeploy(ctx.db, vm.id, `no job for ${settings.graceSeconds}s`)) {
      summary.redriven.vms++;
    }
  }
  for (const labId of stoppedLabs) summary.settled += (await settleVmsOfStoppedLab(ctx.db, labId)).length;

  for (const lab of await listQuietLabs(ctx.db, { ...quiet, statuses: ['queued', 'deploying', 'destroying'] })) {
    if (busy.has(`lab:${lab.id}`)) continue;
    const history = await countEventsSince(ctx.db, { kind: REDRIVE_EVENT, since: lab.lastProgress, labId: lab.id });
    if (lab.status === 'destroying') {
      const due = !history.last || Date.now() - history.last.getTime() >= destroySpacingMs(settings, history.count);
      if (due && (await redriveDestroy(ctx.db, 'lab', lab.id, 'no tear-down job'))) summary.redriven.destroys++;
      continue;
    }
    // Under the fail policy a task that failed for good fails the lab; if that write was lost, do it now.
    const failedTask = lab.policy === 'fail' ? await firstFailedLabTask(ctx.db, lab.id) : undefined;
    if (failedTask) {
      if (await failStuckLab(ctx.db, lab.id, `${failedTask.name}: ${failedTask.error ?? 'failed'}`))
        summary.failed.labs++;
    } else if (history.count >= settings.maxRedrives) {
      const reason = `no flow after ${history.count} re-drives without progress`;
      if (await failStuckLab(ctx.db, lab.id, reason)) summary.failed.labs++;
    } else if (await redriveLab(ctx.db, lab.id, `no job for ${settings.graceSeconds}s`)) {
      summary.redriven.labs++;
    }
  }

  for (const template of await listQuietTemplates(ctx.db, { ...quiet, statuses: ['queued', 'building'] })) {
    if (busy.has(`template:${template.id}`)) continue;
    // A template has no steps to show progress: its re-drives of the last day count.
    const since = new Date(Date.now() - 24 * 3_600_000);
    const history = await countEventsSince(ctx.db, { kind: REDRIVE_EVENT, since, templateId: template.id });
    if (history.count >= settings.maxRedrives) {
      const error = `no build job after ${history.count} re-drives`;
      await updateTemplate(ctx.db, template.id, { status: 'failed', error });
      summary.failed.templates++;
      continue;
    }
    await redriveTemplate(ctx, template);
    summary.redriven.templates++;
  }
  return summary;
}

async function redriveTemplate(ctx: OverseerContext, template: { id: string; os: string; node: string }) {
  await inTransaction(ctx.db, async (trx) => {
    await writeIntent(trx, (n) =>
      jobIntent('template.create', { templateId: template.id }, `template-create.${template.id}.r${n}`),
    );
    await updateTemplate(trx, template.id, { status: 'queued' });
    await appendEvent(trx, {
      kind: REDRIVE_EVENT,
      message: `${template.os} template build on ${template.node} re-driven: no job`,
      data: { templateId: template.id },
    });
  });
}
