import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@glassdome/logger';
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { JOBS, type JobName, type JobPayload, jobsOfQueue, parsePayload, type QueueName } from './catalog';
import type { RedisConnection } from './connection';
import { redisErrorReporter } from './connection';
import { isBackingServiceOutage } from './outage';

export interface JobContext {
  job: Job;
  /** Lock token of this attempt (needed for flow operations such as moveToWaitingChildren). */
  token: string | undefined;
  /**
   * Aborted when this attempt must stop: its time bound passed (JobTimeoutError), its lock was lost
   * so another worker may run it (JobLockLostError), or the process is shutting down
   * (WorkerShutdownError). The reason is that error. Every call that waits or has a side effect must
   * honour it; the job settles only once the handler has returned or thrown.
   */
  signal: AbortSignal;
  log: Logger;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, context: JobContext) => Promise<unknown>;
export type Handlers = { [N in JobName]?: JobHandler<N> };

/** A failure that retrying cannot fix (bad template, invalid parameter): the job fails at once. */
export class PermanentError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

/**
 * True when no further attempt of this job will follow the error: it is permanent (BullMQ's
 * UnrecoverableError, which PermanentError extends) or this was the last attempt. An outage of
 * Postgres or Redis is never final: the worker delays such a job without spending an attempt. The one
 * place Glassdome decides "failed for good".
 */
export function isFinalAttempt(error: unknown, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  if (error instanceof UnrecoverableError) return true;
  if (isBackingServiceOutage(error) || error instanceof WorkerShutdownError || error instanceof JobLockLostError) {
    return false;
  }
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export class JobTimeoutError extends Error {
  constructor(
    readonly job: string,
    readonly timeoutMs: number,
  ) {
    super(`${job} did not finish within ${timeoutMs} ms`);
    this.name = 'JobTimeoutError';
  }
}

/** This worker no longer holds the job's lock (renewal failed or lapsed): another worker may run it. */
export class JobLockLostError extends Error {
  constructor(
    readonly jobId: string,
    readonly reason: string,
  ) {
    super(`lost the lock of job ${jobId} (${reason}); stopping before the next side effect`);
    this.name = 'JobLockLostError';
  }
}

/** The worker is shutting down; the job is handed back to the queue untouched. */
export class WorkerShutdownError extends Error {
  constructor() {
    super('the worker is shutting down; the job is handed back');
    this.name = 'WorkerShutdownError';
  }
}

export interface WorkerGroupOptions {
  /** Makes one connection per worker (BullMQ blocks on it); use createRedis(url, 'worker'). */
  connect: () => RedisConnection;
  /** Queue key prefix (a Redis Cluster hash tag such as `{glassdome}`). */
  prefix: string;
  queues: QueueName[];
  handlers: Handlers;
  /** Jobs run at once per queue in this process. @defaultValue 8 */
  concurrency?: number;
  /** How long a shutdown waits for in-flight jobs before handing them back. @defaultValue 20000 */
  shutdownMs?: number;
  /**
   * A job's lock lifetime; renewed while its worker lives. When a worker dies (kill -9), its jobs
   * go back to waiting within about this long and another replica resumes them. A job whose lock
   * could not be renewed for this long is aborted here, since another worker may have it by now.
   * @defaultValue 30000
   */
  lockMs?: number;
  /**
   * Longest wait of a job delayed because Postgres or Redis was unreachable (the wait doubles from 1 s
   * with each outage the job meets in a row).
   * @defaultValue 30000
   */
  outageBackoffMaxMs?: number;
  /**
   * Times a job may be found stalled (its lock lapsed: its worker died, or Redis was unreachable for
   * longer than `lockMs` while it ran) and put back before it fails. Above BullMQ's 1, so that a few
   * Redis outages during one long job do not fail it for good.
   * @defaultValue 5
   */
  maxStalls?: number;
  /** Time bounds that replace the catalog's for some jobs (slow clusters, tests). @defaultValue the catalog's */
  timeouts?: Partial<Record<JobName, number>>;
  logger: Logger;
}

export interface WorkerGroup {
  workers: Worker[];
  /** Stops taking jobs, lets in-flight ones finish within the bound, hands back the rest, closes. */
  close(): Promise<void>;
}

/** One attempt running in this process: how to abort it and when its lock was last renewed. */
interface ActiveRun {
  abort(reason: Error): void;
  renewedAt: number;
}

/** The attempts running in this process, by job id (one worker per queue, job ids unique per queue). */
class ActiveRuns {
  readonly #runs = new Map<string, Set<ActiveRun>>();

  add(jobId: string, run: ActiveRun): () => void {
    const runs = this.#runs.get(jobId) ?? new Set();
    runs.add(run);
    this.#runs.set(jobId, runs);
    return () => {
      runs.delete(run);
      if (runs.size === 0 && this.#runs.get(jobId) === runs) this.#runs.delete(jobId);
    };
  }

  abort(jobId: string, reason: () => Error): void {
    for (const run of this.#runs.get(jobId) ?? []) run.abort(reason());
  }

  renewed(jobIds: readonly string[], at: number): void {
    for (const id of jobIds) for (const run of this.#runs.get(id) ?? []) run.renewedAt = at;
  }

  /** Aborts every run whose lock has not been renewed within `lockMs`: it may already be someone else's. */
  abortStale(lockMs: number, now: number): void {
    for (const [jobId, runs] of this.#runs) {
      for (const run of runs) {
        if (now - run.renewedAt > lockMs) {
          run.abort(new JobLockLostError(jobId, `not renewed for ${now - run.renewedAt} ms`));
        }
      }
    }
  }

  abortAll(reason: () => Error): void {
    for (const runs of this.#runs.values()) for (const run of runs) run.abort(reason());
  }
}

export function startWorkers(options: WorkerGroupOptions): WorkerGroup {
  let closing = false;
  const log = options.logger;
  const lockMs = options.lockMs ?? 30_000;
  const connections: RedisConnection[] = [];
  const runs = new ActiveRuns();
  const settings: RunSettings = {
    handlers: options.handlers,
    logger: log,
    runs,
    isClosing: () => closing,
    outageBackoffMaxMs: options.outageBackoffMaxMs ?? 30_000,
    timeouts: options.timeouts ?? {},
  };
  const workers = options.queues.map((queue) => {
    for (const name of jobsOfQueue(queue)) {
      if (!options.handlers[name]) throw new Error(`no handler for ${name} (queue ${queue})`);
    }
    const worker = new Worker(queue, async (job, token, signal) => runJob(job, token, signal, settings), {
      connection: connections[connections.push(options.connect()) - 1]!,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 8,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: options.maxStalls ?? 5,
    });
    const reportOutage = redisErrorReporter(log, { queue, source: 'worker' });
    worker.on('error', (error) => {
      if (isBackingServiceOutage(error)) return reportOutage(error);
      log.error({ queue, err: describe(error) }, 'worker error');
    });
    worker.on('ready', () => reportOutage.ended());
    worker.on('failed', (job, error) => {
      if (job && !(error instanceof WaitingError) && !(error instanceof DelayedError)) {
        log.warn({ jobId: job.id, job: job.name, attempt: job.attemptsMade, err: error }, 'job attempt failed');
      }
    });
    worker.on('locksRenewed', ({ jobIds }) => runs.renewed(jobIds, Date.now()));
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) runs.abort(jobId, () => new JobLockLostError(jobId, 'lock renewal refused'));
    });
    // Another worker (or this one) found the job stalled and put it back: whatever runs it here is stale.
    worker.on('stalled', (jobId) => runs.abort(jobId, () => new JobLockLostError(jobId, 'found stalled')));
    return worker;
  });
  const staleCheck = setInterval(() => runs.abortStale(lockMs, Date.now()), Math.max(250, lockMs / 4));
  staleCheck.unref();
  log.info({ queues: options.queues, concurrency: options.concurrency ?? 8 }, 'workers started');

  return {
    workers,
    async close() {
      if (closing) return;
      closing = true;
      try {
        await closeWithin(workers, runs, options.shutdownMs ?? 20_000, log);
      } finally {
        clearInterval(staleCheck);
        // BullMQ leaves connections it was handed open; they are ours to end.
        for (const connection of connections) connection.disconnect();
      }
    },
  };
}

async function closeWithin(workers: Worker[], runs: ActiveRuns, boundMs: number, log: Logger): Promise<void> {
  const closed = Promise.all(workers.map((worker) => worker.close()));
  if (await settlesWithin(closed, boundMs)) return;
  log.warn({ boundMs }, 'shutdown bound reached: handing back in-flight jobs');
  runs.abortAll(() => new WorkerShutdownError());
  if (await settlesWithin(closed, 5_000)) return;
  await Promise.all(workers.map((worker) => worker.close(true)));
}

interface RunSettings {
  handlers: Handlers;
  logger: Logger;
  runs: ActiveRuns;
  isClosing: () => boolean;
  outageBackoffMaxMs: number;
  timeouts: Partial<Record<JobName, number>>;
}

async function runJob(
  job: Job,
  token: string | undefined,
  bullSignal: AbortSignal | undefined,
  settings: RunSettings,
): Promise<unknown> {
  const name = job.name as JobName;
  const definition = JOBS[name];
  const handler = settings.handlers[name] as JobHandler<JobName> | undefined;
  if (!definition || !handler) throw new PermanentError(`no handler for job ${job.name}`);
  const payload = parsePayload(name, job.data);
  const log = settings.logger.child({ jobId: job.id, job: name, attempt: job.attemptsMade + 1 });

  const controller = new AbortController();
  const abort = (reason: Error) => {
    if (controller.signal.aborted) return;
    log.info({ reason: reason.message }, 'aborting the job attempt');
    controller.abort(reason);
  };
  const timeoutMs = settings.timeouts[name] ?? definition.timeoutMs;
  const timer = setTimeout(() => abort(new JobTimeoutError(name, timeoutMs)), timeoutMs);
  // BullMQ's own signal fires when it cancels the job (cancelJob/cancelAllJobs): treated as a hand-back.
  const onBullAbort = () => abort(new WorkerShutdownError());
  bullSignal?.addEventListener('abort', onBullAbort, { once: true });
  const untrack = settings.runs.add(job.id ?? '', { abort, renewedAt: Date.now() });
  const started = Date.now();
  try {
    // Awaited to the end, never raced: the attempt settles only once the handler has stopped.
    const result = await handler(payload, { job, token, signal: controller.signal, log });
    log.debug({ ms: Date.now() - started }, 'job done');
    return result;
  } catch (error) {
    throw await settleFailure(job, token, error, controller.signal, settings, log);
  } finally {
    clearTimeout(timer);
    bullSignal?.removeEventListener('abort', onBullAbort);
    untrack();
  }
}

/** What a failed attempt becomes: a hand-back, a delay that spends no attempt, or a counted failure. */
async function settleFailure(
  job: Job,
  token: string | undefined,
  error: unknown,
  signal: AbortSignal,
  settings: RunSettings,
  log: Logger,
): Promise<unknown> {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  if (reason instanceof WorkerShutdownError) {
    // Put the job back untouched; another replica resumes it at its first unfinished step. If Redis
    // cannot take it now, its lock lapses and the stalled check puts it back instead.
    await job
      .moveToWait(token)
      .catch((moveError: unknown) => log.warn({ err: describe(moveError) }, 'hand-back failed'));
    log.info('job handed back on shutdown');
    return new WaitingError();
  }
  if (reason instanceof JobLockLostError) {
    // Not ours any more (or soon not): give it back if we still can, and leave it alone otherwise.
    await job.moveToWait(token).catch(() => undefined);
    log.warn({ reason: reason.message }, 'job lock lost; the attempt stopped');
    return new WaitingError();
  }
  if (reason instanceof JobTimeoutError) return reason;
  if (isBackingServiceOutage(error)) return delayForOutage(job, token, error, settings, log);
  return error;
}

/**
 * Parks a job that met an outage of Postgres or Redis in the delayed set without spending an attempt.
 * When Redis itself is down the move is repeated until Redis answers: handing BullMQ an error instead
 * would, once Redis is back, record a failed attempt. Gives up only on shutdown or when the job is no
 * longer ours (its lock lapsed meanwhile: the stalled check then puts it back, again without an attempt).
 */
async function delayForOutage(
  job: Job,
  token: string | undefined,
  error: unknown,
  settings: RunSettings,
  log: Logger,
): Promise<Error> {
  const delayMs = outageDelay(job, settings.outageBackoffMaxMs);
  for (let pauseMs = 500; ; pauseMs = Math.min(pauseMs * 2, 5_000)) {
    try {
      await job.moveToDelayed(Date.now() + delayMs, token);
      log.warn({ delayMs, err: describe(error) }, 'Postgres or Redis unreachable: job delayed, no attempt spent');
      return new DelayedError();
    } catch (moveError) {
      if (!isBackingServiceOutage(moveError) || settings.isClosing()) {
        log.warn({ err: describe(moveError) }, 'could not delay the job; leaving it to the stalled check');
        return new WaitingError();
      }
      await sleep(pauseMs);
    }
  }
}

/**
 * 1 s doubling up to the cap, with jitter, by how many times in a row the job was started without an
 * attempt being counted (its earlier outage delays).
 */
function outageDelay(job: Job, maxMs: number): number {
  const uncounted = Math.max(0, (job.attemptsStarted ?? 0) - job.attemptsMade - 1);
  const ceiling = Math.min(maxMs, 1_000 * 2 ** Math.min(uncounted, 16));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  const result = await Promise.race([settled, timedOut]);
  clearTimeout(timer);
  return result;
}

/** SIGTERM/SIGINT → graceful close, then exit. A second signal exits at once. */
export function closeOnSignals(close: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
