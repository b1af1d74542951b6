import type { AddressInfo } from 'node:net';
import { createDb, type Db, migrateToLatest } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { Producer } from '@glassdome/queue';
import { createRedisPrefix, createTestDatabase, waitFor } from '@glassdome/testkit';
import { type AppDeps, createApp } from '../src/app';
import { ensureAdminKey, generateApiKey, type Role, storeApiKey } from '../src/auth/keys';
import { createAppServer } from '../src/http/server';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: answers are JSON whose shape each test asserts
  body: any;
  text: string;
}

export interface RequestOptions {
  key?: string | null;
  body?: unknown;
  /** Sent as is (a string) instead of JSON. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface TestApi {
  url: string;
  db: Db;
  /** The test's own database (for tools such as pg_dump). */
  databaseUrl: string;
  producer: Producer;
  redisUrl: string;
  prefix: string;
  /** A fresh key with this role (in `project`, default 'default'). */
  keyWithRole(role: Role, project?: string): Promise<string>;
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  close(): Promise<void>;
}

/** Sends one request and reads the answer as JSON when it is JSON. */
export async function send(url: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers.authorization = `Bearer ${options.key ?? ADMIN_KEY}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${url}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/**
 * The API in-process on its own database, Redis prefix and port, with the bootstrap admin key.
 * `redisUrl` lets a test point the producer at a Redis it controls (and stops).
 */
export async function startTestApi(
  label: string,
  options: { redisUrl?: string; deps?: Partial<AppDeps> } = {},
): Promise<TestApi> {
  const database = await createTestDatabase(`api_${label}`);
  const redis = createRedisPrefix(`api-${label}`);
  const redisUrl = options.redisUrl ?? redis.url;
  const db = createDb(database.url);
  await migrateToLatest(db);
  await ensureAdminKey(db, ADMIN_KEY);
  const producer = await Producer.open(redisUrl, redis.prefix);
  const logger = createLogger({ name: 'api-test', level: 'silent', format: 'json' });
  const { app, close: closeApp } = createApp({
    db,
    databaseUrl: database.url,
    producer,
    logger,
    node: 'pve01',
    retention: false,
    ...options.deps,
  });
  // The server main.ts runs (the app's own request and response prototypes), not app.listen's.
  const server = createAppServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    db,
    databaseUrl: database.url,
    producer,
    redisUrl,
    prefix: redis.prefix,
    async keyWithRole(role, project) {
      const key = generateApiKey();
      await storeApiKey(db, key, `${role}-${key.slice(3, 9)}`, role, project ? { project } : {});
      return key;
    },
    request: (method, path, requestOptions) => send(url, method, path, requestOptions),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await closeApp();
      await producer.close();
      await db.destroy();
      await database.drop();
      if (!options.redisUrl) await redis.cleanup();
    },
  };
}

/**
 * Waits (10 s at most) until the outbox is empty: every intent committed so far is in BullMQ. A 202
 * means committed, and the relay sends the intent a moment later; its row goes once it is in Redis.
 */
export async function allRelayed(db: Db): Promise<void> {
  await waitFor(
    'every committed intent relayed to BullMQ (the outbox empty)',
    async () => (await db.selectFrom('outbox').select('id').limit(1).execute()).length === 0,
    { timeoutMs: 10_000, intervalMs: 10 },
  );
}

/** The vm-queue job `jobId` once the relay has sent it to BullMQ (10 s at most): a 202 means committed. */
export function relayedJob(api: TestApi, jobId: string) {
  return waitFor('the relay to send the job to BullMQ', () => api.producer.queues.vm.getJob(jobId), {
    timeoutMs: 10_000,
    intervalMs: 10,
  });
}

/** Jobs of every state in every queue, across the producer's queues. */
export async function allJobs(producer: Producer) {
  const jobs = await Promise.all(
    Object.values(producer.queues).map((queue) =>
      queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'waiting-children', 'prioritized']),
    ),
  );
  return jobs.flat();
}

/** Rows in the tables a request may write. */
export async function rowCounts(db: Db) {
  const count = async (table: 'vms' | 'labs' | 'templates' | 'steps' | 'idempotency_keys') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    vms: await count('vms'),
    labs: await count('labs'),
    templates: await count('templates'),
    steps: await count('steps'),
  };
}

export const VALID_VM = { name: 'web-01', os: 'ubuntu-22.04' } as const;
