/**
 * The key lookup that the address limiter starts early for a key seen before is answered when the
 * request reaches authentication; when Postgres fails it first (or the request never gets there),
 * that is no unhandled rejection. Before, it was one, and Node ended the API process: the chaos
 * scenarios that restart Postgres found the API gone.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDb, type Db, migrateToLatest } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import type { NextFunction, Request, Response } from 'express';
import { generateApiKey, storeApiKey } from '../src/auth/keys';
import { authenticate } from '../src/auth/middleware';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('auth_prefetch');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(() => database.drop());

const logger = createLogger({
  name: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

/** The parts of a request the authentication middleware reads. */
function requestWith(key: string): Request {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  return {
    method: 'GET',
    originalUrl: '/api/v1/me',
    get: (name: string) => headers[name.toLowerCase()],
    log: logger,
  } as unknown as Request;
}

test('an early key lookup that fails before authentication reads it does not end the process', async () => {
  const key = generateApiKey();
  await storeApiKey(db, key, 'seen', 'operator');
  const auth = authenticate(db);
  // Authenticated once: the key is now one whose lookup starts early.
  let passed = false;
  await auth(
    requestWith(key),
    {} as Response,
    (() => {
      passed = true;
    }) as NextFunction,
  );
  assert.ok(passed);

  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await db.destroy(); // Postgres gone: every lookup from now on fails
    const refused = requestWith(key);
    auth.prefetch(refused); // the address limiter starts the lookup …
    await sleep(200); // … and the request is refused before it reaches authentication
    const late = requestWith(key);
    auth.prefetch(late);
    await sleep(200); // the lookup failed before authentication read it
    await assert.rejects(
      auth(late, {} as Response, (() => undefined) as NextFunction),
      'authentication answers the failure',
    );
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});
