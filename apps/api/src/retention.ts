/**
 * Retention: a periodic prune of what would otherwise grow forever — events older than
 * EVENT_RETENTION_DAYS, stored idempotent answers older than IDEMPOTENCY_RETENTION_HOURS, and
 * finished jobs past their keep time (BullMQ removes those lazily, when later jobs finish; an idle
 * queue keeps them, so they are cleaned here too) — and a fold of the finished-step totals, which
 * take a row per step so that steps finishing together never wait for each other. One replica
 * prunes at a time (an advisory lock); each pass deletes in bounded batches.
 */
import { type Db, foldStepTotals, pruneEvents, pruneIdempotentAnswers, withAdvisoryLock } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import type { Producer } from '@glassdome/queue';

export interface RetentionOptions {
  /** Events are kept this long. @defaultValue 90 */
  eventDays: number;
  /** Idempotent answers are replayed this long after the first request. @defaultValue 24 */
  idempotencyHours: number;
  /** Completed jobs are kept this long (as the producer's removeOnComplete). @defaultValue 7 */
  completedJobDays: number;
  /** Failed jobs are kept this long (as the producer's removeOnFail). @defaultValue 30 */
  failedJobDays: number;
  /** Time between two passes. @defaultValue 600000 (10 min) */
  intervalMs: number;
}

export const DEFAULT_RETENTION: RetentionOptions = {
  eventDays: 90,
  idempotencyHours: 24,
  completedJobDays: 7,
  failedJobDays: 30,
  intervalMs: 10 * 60_000,
};

const DAY_MS = 24 * 3600 * 1000;
/** Most event rows one pass deletes (in batches), so a first pass over a large table stays short. */
const EVENT_ROWS_PER_PASS = 50_000;
const JOBS_PER_CLEAN = 1_000;

export interface PruneResult {
  events: number;
  idempotencyKeys: number;
  jobs: number;
  /** Finished-step rows folded into their (name, status) totals. */
  stepTotals: number;
}

/** One pass; undefined when another replica holds the lock. */
export async function pruneOnce(
  db: Db,
  producer: Producer,
  options: RetentionOptions,
  now = Date.now(),
): Promise<PruneResult | undefined> {
  return withAdvisoryLock(db, 'glassdome:retention', async () => {
    // First, so that a Redis outage failing the job clean below does not leave the rows to grow.
    const stepTotals = await foldStepTotals(db);
    let events = 0;
    const before = new Date(now - options.eventDays * DAY_MS);
    for (;;) {
      const deleted = await pruneEvents(db, before);
      events += deleted;
      if (deleted === 0 || events >= EVENT_ROWS_PER_PASS) break;
    }
    const idempotencyKeys = await pruneIdempotentAnswers(db, new Date(now - options.idempotencyHours * 3600 * 1000));
    let jobs = 0;
    if (producer.connection.status === 'ready') {
      for (const queue of Object.values(producer.queues)) {
        jobs += (await queue.clean(options.completedJobDays * DAY_MS, JOBS_PER_CLEAN, 'completed')).length;
        jobs += (await queue.clean(options.failedJobDays * DAY_MS, JOBS_PER_CLEAN, 'failed')).length;
      }
    }
    return { events, idempotencyKeys, jobs, stepTotals };
  });
}

/** Runs a pass now and then every `intervalMs`; returns the stop function. */
export function startRetention(db: Db, producer: Producer, logger: Logger, options: RetentionOptions): () => void {
  let running: Promise<void> | undefined;
  const pass = () => {
    if (running) return;
    running = pruneOnce(db, producer, options)
      .then((result) => {
        if (result && result.events + result.idempotencyKeys + result.jobs + result.stepTotals > 0)
          logger.info(result, 'retention pruned');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'retention pass failed; trying again later'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(pass, 5_000);
  const timer = setInterval(pass, options.intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
