/**
 * The change feed against a real Postgres: every committed event reaches the subscribers of its lab
 * once, in commit order, including one whose transaction took a lower id and committed later; lab
 * status changes are announced; while nobody subscribes the feed does not LISTEN (no notification
 * reaches the process), and a subscriber of an idle feed gets each event committed after its
 * subscribe resolved, once, and none from before.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase, waitFor } from '@glassdome/testkit';
import { sql } from 'kysely';
import { CHANGE_FEED_APPLICATION } from '../src/change-feed';
import {
  appendEvent,
  ChangeFeed,
  createDb,
  type Db,
  type FeedEvent,
  insertLab,
  inTransaction,
  migrateToLatest,
} from '../src/index';

let database: TestDatabase;
let db: Db;
let feed: ChangeFeed;
before(async () => {
  database = await createTestDatabase('change-feed');
  db = createDb(database.url);
  await migrateToLatest(db);
  feed = await new ChangeFeed(db, database.url, { catchUpMs: 60_000 }).start();
});
after(async () => {
  await feed?.close();
  await db?.destroy();
  await database?.drop();
});

const lab = (name: string) =>
  insertLab(db, { name, platformId: 'default', spec: {}, graph: {}, onFailure: 'fail', copies: 1, expiresAt: null });

test('events reach their lab subscribers once, also one with a lower id that commits later', async () => {
  const labId = await lab('feed-a');
  const other = await lab('feed-b');
  const seen: FeedEvent[] = [];
  const unsubscribe = await feed.subscribe(labId, { onEvents: (events) => seen.push(...events), onStatus: () => {} });
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  // T1 takes its id first and commits last.
  const slow = inTransaction(db, async (trx) => {
    await appendEvent(trx, { labId, kind: 'test', message: 'first id, late commit' });
    await held;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await appendEvent(db, { labId, kind: 'test', message: 'second id, early commit' });
  await appendEvent(db, { labId: other, kind: 'test', message: 'another lab' });
  await waitFor('the early commit', () => seen.length === 1);
  release();
  await slow;
  await waitFor('the late commit', () => seen.length === 2);
  assert.deepEqual(
    seen.map((event) => event.message),
    ['second id, early commit', 'first id, late commit'],
  );
  assert.ok(seen[1]!.id < seen[0]!.id, 'the late one has the lower id');
  unsubscribe();
});

test('a lab status change is announced to its subscribers', async () => {
  const labId = await lab('feed-status');
  const statuses: string[] = [];
  const unsubscribe = await feed.subscribe(labId, {
    onEvents: () => {},
    onStatus: (status) => statuses.push(status),
  });
  await db.updateTable('labs').set({ status: 'deploying' }).where('id', '=', labId).execute();
  await waitFor('the status', () => statuses.includes('deploying'));
  unsubscribe();
  assert.equal(feed.subscriptions, 0);
});

/** The last statement the feed's connection sent (pg_stat_activity), once its backend reports it. */
async function feedStatement(expected: string): Promise<void> {
  await waitFor(`the feed's connection to send ${expected}`, async () => {
    const { rows } = await sql<{ query: string }>`SELECT query FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = ${CHANGE_FEED_APPLICATION}`.execute(db);
    return rows[0]?.query === expected;
  });
}

test('the feed LISTENs only while someone subscribes; a later subscriber gets what commits after it, once', async () => {
  const labId = await lab('feed-idle');
  await feedStatement('UNLISTEN glassdome_changes');
  // Committed while nobody listens: history, not the next subscriber's live events.
  await appendEvent(db, { labId, kind: 'test', message: 'while idle' });
  const seen: FeedEvent[] = [];
  const unsubscribe = await feed.subscribe(labId, { onEvents: (events) => seen.push(...events), onStatus: () => {} });
  await feedStatement('LISTEN glassdome_changes');
  await appendEvent(db, { labId, kind: 'test', message: 'after the subscribe' });
  await appendEvent(db, { labId, kind: 'test', message: 'and another' });
  await waitFor('both live events', () => seen.length === 2);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(
    seen.map((event) => event.message),
    ['after the subscribe', 'and another'],
  );
  unsubscribe();
  await feedStatement('UNLISTEN glassdome_changes');
});

test('a subscriber whose feed lost its connection gets what committed meanwhile, once, after the reconnect', async () => {
  const labId = await lab('feed-lost');
  const seen: FeedEvent[] = [];
  const unsubscribe = await feed.subscribe(labId, { onEvents: (events) => seen.push(...events), onStatus: () => {} });
  await feedStatement('LISTEN glassdome_changes');
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = ${CHANGE_FEED_APPLICATION}`.execute(db);
  await appendEvent(db, { labId, kind: 'test', message: 'while the feed was away' });
  await waitFor('the event, once the feed is back', () => seen.length === 1, { timeoutMs: 10_000 });
  await appendEvent(db, { labId, kind: 'test', message: 'after the reconnect' });
  await waitFor('the next one', () => seen.length === 2);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(
    seen.map((event) => event.message),
    ['while the feed was away', 'after the reconnect'],
  );
  unsubscribe();
});
