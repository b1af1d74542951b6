import { checkPostgres, createDb, type Db, migrateToLatest, PostgresUnavailableError } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import { checkRedis, Producer, RedisUnavailableError } from '@glassdome/queue';

export interface BackingServices {
  db: Db;
  producer: Producer;
  close(): Promise<void>;
}

/**
 * Checks Redis and Postgres (naming whichever is down and how to start it), migrates under Kysely's
 * lock, and opens the database pool and a fail-fast producer.
 */
export async function connectBackingServices(
  env: {
    DATABASE_URL: string;
    REDIS_URL: string;
    QUEUE_PREFIX: string;
    LAB_TASK_BACKOFF_MS?: number | undefined;
  },
  /** Where the producer's Redis connection reports outages (one line each). @defaultValue a logger named "redis" */
  logger?: Logger,
): Promise<BackingServices> {
  await checkPostgres(env.DATABASE_URL);
  await checkRedis(env.REDIS_URL);
  const db = createDb(env.DATABASE_URL);
  await migrateToLatest(db);
  const producer = await Producer.open(env.REDIS_URL, env.QUEUE_PREFIX, {
    logger,
    labTaskBackoffMs: env.LAB_TASK_BACKOFF_MS,
  });
  return {
    db,
    producer,
    async close() {
      await producer.close();
      await db.destroy();
    },
  };
}

/** Start-up failures a person can fix get one line and exit 1; anything else is rethrown. */
export function exitWhenUnavailable(processName: string, logger: Logger) {
  return (error: unknown): never => {
    if (error instanceof PostgresUnavailableError || error instanceof RedisUnavailableError) {
      process.stderr.write(`${processName}: ${error.message}\n`);
      process.exit(1);
    }
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  };
}
