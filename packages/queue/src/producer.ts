import type { Logger } from '@glassdome/logger';
import { FlowProducer, type JobsOptions, Queue } from 'bullmq';
import { JOBS, type JobName, type JobPayload, parsePayload, QUEUES, type QueueName } from './catalog';
import { createRedis, type RedisConnection, redisErrorReporter, waitForRedis, writeOncePerTurn } from './connection';

/** The retry and retention options a job gets from its catalog entry (its backoff base unless given one). */
export function jobOptions(name: JobName, extra: JobsOptions = {}, backoffMs = JOBS[name].backoffMs): JobsOptions {
  const definition = JOBS[name];
  return {
    attempts: definition.attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { age: definition.keepSeconds ?? 7 * 24 * 3600, count: 10_000 },
    removeOnFail: { age: definition.keepSeconds ?? 30 * 24 * 3600 },
    ...extra,
  };
}

/**
 * Producer side of every queue. `enqueue` validates the payload against the catalog before it
 * touches Redis. Build it with `Producer.open`: BullMQ queries Redis as soon as a queue is
 * constructed, so the connection must be ready first.
 */
export class Producer {
  readonly queues: Record<QueueName, Queue>;
  readonly flows: FlowProducer;

  constructor(
    readonly connection: RedisConnection,
    readonly prefix: string,
    logger?: Logger,
    /**
     * Base of the exponential backoff between a lab task's attempts (LAB_TASK_BACKOFF_MS): every
     * process that adds lab tasks must be given the same one. @defaultValue the job catalog's
     */
    readonly labTaskBackoffMs?: number,
  ) {
    // One reporter for the queues and the flow producer: they share the connection, so an outage is
    // one line, not one per queue.
    const reportError = redisErrorReporter(logger, { source: 'producer' });
    connection.on('ready', () => reportError.ended());
    this.queues = Object.fromEntries(
      Object.values(QUEUES).map((name) => {
        const queue = new Queue(name, { connection, prefix, skipWaitingForReady: true });
        queue.on('error', reportError);
        return [name, queue];
      }),
    ) as Record<QueueName, Queue>;
    this.flows = new FlowProducer({ connection, prefix });
    this.flows.on('error', reportError);
  }

  /** Connects a fail-fast producer connection, waits until it is ready, then builds the queues. */
  static async open(
    url: string,
    prefix: string,
    options: {
      /** @defaultValue 5000 */
      timeoutMs?: number;
      logger?: Logger | undefined;
      labTaskBackoffMs?: number | undefined;
    } = {},
  ): Promise<Producer> {
    const { timeoutMs = 5_000, logger, labTaskBackoffMs } = options;
    const connection = createRedis(url, 'producer', {}, logger);
    // The adds of one turn in one write: a finished lab task adds every task it made ready at once
    // (the network task of the lab bench, 60), which were 60 writes to the socket.
    writeOncePerTurn(connection);
    try {
      await waitForRedis(connection, url, timeoutMs);
    } catch (error) {
      connection.disconnect();
      throw error;
    }
    return new Producer(connection, prefix, logger, labTaskBackoffMs);
  }

  /** Adds one job. With `jobId` set, a second add of the same id is a no-op (BullMQ dedupes by id). */
  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options: JobsOptions = {}) {
    const data = parsePayload(name, payload);
    return this.queues[JOBS[name].queue].add(name, data, jobOptions(name, options));
  }

  async close(): Promise<void> {
    await Promise.all([...Object.values(this.queues).map((queue) => queue.close()), this.flows.close()]);
    this.connection.disconnect();
  }
}
