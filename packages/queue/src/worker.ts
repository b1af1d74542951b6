import type { Logger } from '@glassdome/logger';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOBS, type JobName, type JobPayload, jobsOfQueue, parsePayload, type QueueName } from './catalog';

export interface JobContext {
  job: Job;
  /** Lock token of this attempt (needed for flow operations such as moveToWaitingChildren). */
  token: string | undefined;
  /** Aborted on timeout, cancellation or shutdown; long waits must honour it. */
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
 * UnrecoverableError, which PermanentError extends) or this was the last attempt. The one place
 * Glassdome decides "failed for good".
 */
export function isFinalAttempt(error: unknown, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  if (error instanceof UnrecoverableError) return true;
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

export interface WorkerGroupOptions {
  /** Makes one connection per worker (BullMQ blocks on it); use createRedis(url, 'worker'). */
  connect: () => Redis;
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
   * go back to waiting within about this long and another replica resumes them.
   * @defaultValue 30000
   */
  lockMs?: number;
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
  const connections: Redis[] = [];
  const workers = options.queues.map((queue) => {
    for (const name of jobsOfQueue(queue)) {
      if (!options.handlers[name]) throw new Error(`no handler for ${name} (queue ${queue})`);
    }
    const worker = new Worker(
      queue,
      async (job, token, signal) => runJob(job, token, signal, options.handlers, log, () => closing),
      {
        connection: connections[connections.push(options.connect()) - 1]!,
        prefix: options.prefix,
        concurrency: options.concurrency ?? 8,
        lockDuration: options.lockMs ?? 30_000,
        stalledInterval: options.lockMs ?? 30_000,
      },
    );
    worker.on('error', (error) => log.error({ err: error, queue }, 'worker error'));
    worker.on('failed', (job, error) => {
      if (job && !(error instanceof WaitingError)) {
        log.warn({ jobId: job.id, job: job.name, attempt: job.attemptsMade, err: error }, 'job attempt failed');
      }
    });
    return worker;
  });
  log.info({ queues: options.queues, concurrency: options.concurrency ?? 8 }, 'workers started');

  return {
    workers,
    async close() {
      if (closing) return;
      closing = true;
      try {
        await closeWithin(workers, options.shutdownMs ?? 20_000, log);
      } finally {
        // BullMQ leaves connections it was handed open; they are ours to end.
        for (const connection of connections) connection.disconnect();
      }
    },
  };
}

async function closeWithin(workers: Worker[], boundMs: number, log: Logger): Promise<void> {
  const closed = Promise.all(workers.map((worker) => worker.close()));
  if (await settlesWithin(closed, boundMs)) return;
  log.warn({ boundMs }, 'shutdown bound reached: handing back in-flight jobs');
  for (const worker of workers) worker.cancelAllJobs('shutdown');
  if (await settlesWithin(closed, 5_000)) return;
  await Promise.all(workers.map((worker) => worker.close(true)));
}

async function runJob(
  job: Job,
  token: string | undefined,
  cancelSignal: AbortSignal | undefined,
  handlers: Handlers,
  logger: Logger,
  isClosing: () => boolean,
): Promise<unknown> {
  const name = job.name as JobName;
  const definition = JOBS[name];
  const handler = handlers[name] as JobHandler<JobName> | undefined;
  if (!definition || !handler) throw new PermanentError(`no handler for job ${job.name}`);
  const payload = parsePayload(name, job.data);
  const timeout = AbortSignal.timeout(definition.timeoutMs);
  const signal = cancelSignal ? AbortSignal.any([cancelSignal, timeout]) : timeout;
  const log = logger.child({ jobId: job.id, job: name, attempt: job.attemptsMade + 1 });
  const started = Date.now();
  try {
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {});
    const result = await Promise.race([handler(payload, { job, token, signal, log }), aborted]);
    log.debug({ ms: Date.now() - started }, 'job done');
    return result;
  } catch (error) {
    if (isClosing() && cancelSignal?.aborted) {
      // Shutting down: put the job back untouched; another replica resumes it at its first unfinished step.
      await job.moveToWait(token);
      log.info('job handed back on shutdown');
      throw new WaitingError();
    }
    if (timeout.aborted) throw new JobTimeoutError(name, definition.timeoutMs);
    throw error;
  }
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
