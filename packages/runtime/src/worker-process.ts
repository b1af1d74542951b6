import type { Logger } from '@glassdome/logger';
import { closeOnSignals, createRedis, type Handlers, type QueueName, startWorkers } from '@glassdome/queue';

export interface WorkerProcessEnv {
  REDIS_URL: string;
  QUEUE_PREFIX: string;
  WORKER_CONCURRENCY: number;
  WORKER_SHUTDOWN_SECONDS: number;
  WORKER_LOCK_SECONDS: number;
}

/**
 * The end of every worker process's start-up (installer, gateway, overseer): consume `queues` with
 * `handlers`, close gracefully on SIGTERM/SIGINT (workers first, then `release`), and
 * announce readiness on stdout whatever the log level, since launchers and tests wait for that line.
 */
export function serveQueues(
  name: string,
  env: WorkerProcessEnv,
  logger: Logger,
  options: {
    queues: QueueName[];
    handlers: Handlers;
    release: () => Promise<void> | void;
    /** Extra fields for the structured ready line. */
    ready?: Record<string, unknown>;
  },
): void {
  const workers = startWorkers({
    connect: () => createRedis(env.REDIS_URL, 'worker', {}, logger),
    prefix: env.QUEUE_PREFIX,
    queues: options.queues,
    handlers: options.handlers,
    concurrency: env.WORKER_CONCURRENCY,
    shutdownMs: env.WORKER_SHUTDOWN_SECONDS * 1000,
    lockMs: env.WORKER_LOCK_SECONDS * 1000,
    logger,
  });
  closeOnSignals(async () => {
    await workers.close();
    await options.release();
  }, logger);
  logger.info({ pid: process.pid, ...options.ready }, `${name} ready`);
  process.stdout.write(`${name} ready (pid ${process.pid})\n`);
}
