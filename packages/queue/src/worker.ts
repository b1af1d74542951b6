import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@glassdome/logger';
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import {
  ActiveRuns,
  Attempt,
  abortOnTimeout,
  type JobContext,
  JobLockLostError,
  JobTimeoutError,
  type SlotLender,
  WorkerShutdownError,
} from './attempt';
import { JOBS, type JobName, type JobPayload, jobsOfQueue, parsePayload, type QueueName } from './catalog';
import type { RedisConnection } from './connection';
import { redisErrorReporter, writeOncePerTurn } from './connection';
import { isBackingServiceOutage, isPostgresPoolBusy, isTransactionConflict } from './outage';

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
 * Postgres or Redis, or a transaction Postgres rolled back for a conflict, is never final: the worker
 * delays such a job without spending an attempt. The one place Glassdome decides "failed for good".
 */
export function isFinalAttempt(error: unknown, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  if (error instanceof UnrecoverableError) return true;
  if (uncountedCause(error) || error instanceof WorkerShutdownError || error instanceof JobLockLostError) {
    return false;
  }
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export interface WorkerGroupOptions {
  /** Makes one connection per worker (BullMQ blocks on it); use createRedis(url, 'worker'). */
  connect: () => RedisConnection;
  /** Queue key prefix (a Redis Cluster hash tag such as `{glassdome}`). */
  prefix: string;
  queues: QueueName[];
  handlers: Handlers;
  /**
   * Jobs run at once per queue in this process. BullMQ's worker takes jobs one after another while
   * it has free slots and starts those it took only once the queue is empty (the first, from its
   * blocking wait, at once): a burst of ready jobs goes to the workers by how fast each one's event
   * loop answers, and a lab's 60 provisions split anywhere from 30/30 to 57/3 between two installers.
   * Holding each worker to a window of jobs taken ahead of those it started (its concurrency kept at
   * running + 2, or + half its slots) was measured and dropped: no better split, and with 2 the takes
   * interleave with the starts and the last job is taken later (see the lab bench's trace).
   * @defaultValue 8
   */
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
  /**
   * Jobs set aside at once per queue in this process (JobContext.setAside: each waits in a line
   * outside and lets the worker take one more job meanwhile); beyond it, a job waits in its slot.
   * @defaultValue 1000
   */
  maxAside?: number;
  /**
   * The workers' name, which BullMQ records on each job they take (its `processedBy`): which process
   * ran a job. @defaultValue `<host>:<pid>`
   */
  name?: string;
  /** Time bounds that replace the catalog's for some jobs (slow clusters, tests). @defaultValue the catalog's */
  timeouts?: Partial<Record<JobName, number>>;
  logger: Logger;
}

export interface WorkerGroup {
  workers: Worker[];
  /** Stops taking jobs, lets in-flight ones finish within the bound, hands back the rest, closes. */
  close(): Promise<void>;
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
    // The processor reads `lender` only when a job runs, after the worker below was made. It takes
    // no third parameter: BullMQ then makes no AbortController per job for cancelJob, which nothing
    // here calls (an attempt is stopped through its own signal: timeout, lock loss, shutdown).
    const connection = options.connect();
    connections.push(connection);
    writeOncePerTurn(connection);
    const worker = new Worker(queue, async (job, token) => runJob(job, token, settings, lender), {
      connection,
      prefix: options.prefix,
      name: options.name ?? `${hostname()}:${process.pid}`,
      concurrency: options.concurrency ?? 8,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: options.maxStalls ?? 5,
      // After a Redis connection error BullMQ waits this long before fetching or finishing jobs again
      // (15 s by default). Jobs it already fetched wait meanwhile with no lock renewed: two such
      // waits are a lock's length, and the stalled check would run them a second time.
      runRetryDelay: 1_000,
    });
    const lender: SlotLender = new WorkerSlots(worker, options.maxAside ?? 1_000);
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
    worker.on('stalled', (jobId) => {
      log.warn({ queue, jobId }, 'job found stalled (its lock lapsed): put back to wait');
      runs.abort(jobId, () => new JobLockLostError(jobId, 'found stalled'));
    });
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

/** The part of BullMQ's Worker (6.7) that wakes its fetch loop; not in its types. */
interface FetchLoop {
  mainLoopQueue?: { add(pending: Promise<unknown>): void } | null;
}

/**
 * Lends a worker one more job at once per job set aside, by raising its concurrency (BullMQ's public
 * setting) until the job's wait ends. BullMQ reads it before taking a job, but a worker whose slots
 * are all busy sleeps until one of its jobs settles: it is woken the way BullMQ's own resume() wakes
 * it (a settled promise on its fetch loop), so the lent slot is used at once. Should a later BullMQ
 * lose that loop, the slot is still used, from the next job that ends.
 */
class WorkerSlots implements SlotLender {
  #aside = 0;

  constructor(
    readonly worker: Worker,
    readonly max: number,
  ) {}

  lend(): () => void {
    if (this.#aside >= this.max) return () => {};
    this.#aside++;
    const { worker } = this;
    worker.concurrency += 1;
    (worker as unknown as FetchLoop).mainLoopQueue?.add(Promise.resolve());
    let lent = true;
    return () => {
      if (!lent) return;
      lent = false;
      this.#aside--;
      worker.concurrency -= 1;
    };
  }
}

async function runJob(
  job: Job,
  token: string | undefined,
  settings: RunSettings,
  lender: SlotLender,
): Promise<unknown> {
  const name = job.name as JobName;
  const definition = JOBS[name];
  const handler = settings.handlers[name] as JobHandler<JobName> | undefined;
  if (!definition || !handler) throw new PermanentError(`no handler for job ${job.name}`);
  const payload = parsePayload(name, job.data);
  const attempt = new Attempt(job, token, settings.logger, lender);
  const timeoutMs = settings.timeouts[name] ?? definition.timeoutMs;
  const timer = setTimeout(abortOnTimeout, timeoutMs, attempt, name, timeoutMs);
  const jobId = job.id ?? '';
  settings.runs.add(jobId, attempt);
  const started = Date.now();
  try {
    // Awaited to the end, never raced: the attempt settles only once the handler has stopped.
    const result = await handler(payload, attempt);
    if (settings.logger.isLevelEnabled('debug')) attempt.log.debug({ ms: Date.now() - started }, 'job done');
    return result;
  } catch (error) {
    throw await settleFailure(attempt, error, settings);
  } finally {
    clearTimeout(timer);
    settings.runs.delete(jobId, attempt);
  }
}

/** What a failed attempt becomes: a hand-back, a delay that spends no attempt, or a counted failure. */
async function settleFailure(attempt: Attempt, error: unknown, settings: RunSettings): Promise<unknown> {
  const { job, token } = attempt;
  const reason = attempt.abortReason;
  if (reason instanceof WorkerShutdownError) {
    // Put the job back untouched; another replica resumes it at its first unfinished step. If Redis
    // cannot take it now, its lock lapses and the stalled check puts it back instead.
    await job
      .moveToWait(token)
      .catch((moveError: unknown) => attempt.log.warn({ err: describe(moveError) }, 'hand-back failed'));
    attempt.log.info('job handed back on shutdown');
    return new WaitingError();
  }
  if (reason instanceof JobLockLostError) {
    // Not ours any more (or soon not): give it back if we still can, and leave it alone otherwise.
    await job.moveToWait(token).catch(() => undefined);
    attempt.log.warn({ reason: reason.message }, 'job lock lost; the attempt stopped');
    return new WaitingError();
  }
  if (reason instanceof JobTimeoutError) return reason;
  const cause = uncountedCause(error);
  if (cause) return delayUncounted(job, token, error, cause, settings, attempt.log);
  return error;
}

/** Why a failure spends no attempt (the job is delayed and runs again), or undefined when it does. */
function uncountedCause(error: unknown): string | undefined {
  if (isPostgresPoolBusy(error)) return 'every Postgres connection of this process in use';
  if (isBackingServiceOutage(error)) return 'Postgres or Redis unreachable';
  if (isTransactionConflict(error)) return 'transaction rolled back by a conflict (deadlock or serialization)';
  return undefined;
}

/**
 * Parks a job that met an outage of Postgres or Redis (or a conflict, `cause`) in the delayed set
 * without spending an attempt.
 * When Redis itself is down the move is repeated until Redis answers: handing BullMQ an error instead
 * would, once Redis is back, record a failed attempt. Gives up only on shutdown or when the job is no
 * longer ours (its lock lapsed meanwhile: the stalled check then puts it back, again without an attempt).
 */
async function delayUncounted(
  job: Job,
  token: string | undefined,
  error: unknown,
  cause: string,
  settings: RunSettings,
  log: Logger,
): Promise<Error> {
  const delayMs = uncountedDelay(job, settings.outageBackoffMaxMs);
  for (let pauseMs = 500; ; pauseMs = Math.min(pauseMs * 2, 5_000)) {
    try {
      await job.moveToDelayed(Date.now() + delayMs, token);
      log.warn({ delayMs, err: describe(error) }, `${cause}: job delayed, no attempt spent`);
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
 * attempt being counted (its earlier outage or conflict delays).
 */
function uncountedDelay(job: Job, maxMs: number): number {
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
