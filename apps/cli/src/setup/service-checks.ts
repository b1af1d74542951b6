import { parseRedisUrl, RedisUrlError } from '@glassdome/config';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { ApiClient } from '../api-client';
import { ApiRequestError } from '../errors';
import type { SetupAnswers } from './answers';
import { type CheckOutcome, failed, passed, reasonOf } from './outcome';

/** What a Postgres error code means for the operator. */
const POSTGRES_FIXES: Record<string, string> = {
  ECONNREFUSED: 'start Postgres or fix the host and port',
  '28P01': 'fix the user or password in the URL',
  '28000': 'allow this user in pg_hba.conf or fix the user in the URL',
  '3D000': 'create the database (createdb) or fix its name in the URL',
};

/** Postgres' code for "no such database": `pnpm start` creates it, so a first setup only warns. */
const NO_SUCH_DATABASE = '3D000';

/** One PING on a connection that gives up at once instead of retrying: an operator is waiting. */
export async function checkRedisUrl(answers: SetupAnswers): Promise<CheckOutcome> {
  const once: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  };
  let target: ReturnType<typeof parseRedisUrl>;
  try {
    target = parseRedisUrl(answers.redisUrl);
  } catch (error) {
    if (!(error instanceof RedisUrlError)) throw error;
    return failed(
      'Redis',
      error.message,
      'give redis://host:6379, redis-sentinel://h:26379,…/<master> or redis-cluster://h:7000,…',
    );
  }
  const auth = { username: target.username, password: target.password };
  // A Sentinel set or a cluster is asked the way the processes will ask it (see @glassdome/queue).
  const redis =
    target.kind === 'cluster'
      ? new Cluster(target.nodes, { lazyConnect: true, enableOfflineQueue: false, redisOptions: { ...once, ...auth } })
      : target.kind === 'sentinel'
        ? new Redis({ ...once, ...auth, sentinels: target.sentinels, name: target.master, db: target.db })
        : new Redis(answers.redisUrl, once);
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return passed('Redis', 'answers PING');
  } catch (error) {
    return failed('Redis', reasonOf(error), 'start Redis or fix the URL (redis://host:6379)');
  } finally {
    redis.disconnect();
  }
}

export async function checkPostgres(answers: SetupAnswers): Promise<CheckOutcome> {
  const client = new pg.Client({ connectionString: answers.databaseUrl, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return passed('Postgres', 'connects and answers');
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code === NO_SUCH_DATABASE) {
      return {
        ...failed(
          'Postgres',
          `answers, but ${reasonOf(error)}`,
          '`pnpm start` creates it at its first start (or createdb it)',
        ),
        warning: true,
      };
    }
    return failed(
      'Postgres',
      `cannot use the database: ${reasonOf(error)}`,
      POSTGRES_FIXES[code] ?? 'check the URL (postgres://user@host:5432/db)',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function checkApi(answers: SetupAnswers): Promise<CheckOutcome> {
  const client = new ApiClient({ apiUrl: answers.apiUrl.replace(/\/+$/, ''), apiKey: answers.apiKey ?? '' });
  try {
    const health = await client.probe('/healthz');
    if (health.status !== 200)
      return failed('Glassdome API', `/healthz answered ${health.status}`, 'check the API process logs');
    if (!answers.apiKey)
      return passed(
        'Glassdome API',
        `${answers.apiUrl} answers (no key given: commands will need --api-key or GLASSDOME_API_KEY)`,
      );
    await client.call('GET', '/labs', { query: { limit: 1 } });
    return passed('Glassdome API', `${answers.apiUrl} answers and accepts the key`);
  } catch (error) {
    if (error instanceof ApiRequestError && error.status === 401) {
      return failed(
        'Glassdome API',
        'the API refused the key',
        'use a key from GLASSDOME_ADMIN_KEY or one created through POST /api/v1/keys',
      );
    }
    // A first setup usually runs before the stack is up: worth a warning, not a reason to stop.
    return { ...failed('Glassdome API', reasonOf(error), 'start the API (pnpm start) or fix its URL'), warning: true };
  }
}
