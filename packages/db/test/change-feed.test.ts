/**
 * The change feed against a real Postgres: every committed event reaches the subscribers of its lab
 * once, in commit order, including one whose transaction took a lower id and committed later; lab
 * status changes are announced; nothing is read while nobody subscribes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase, waitFor } from '@glassdome/testkit';
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
  const unsubscribe = feed.subscribe(labId, { onEvents: (events) => seen.push(...events), onStatus: () => {} });
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
  const unsubscribe = feed.subscribe(labId, { onEvents: () => {}, onStatus: (status) => statuses.push(status) });
  await db.updateTable('labs').set({ status: 'deploying' }).where('id', '=', labId).execute();
  await waitFor('the status', () => statuses.includes('deploying'));
  unsubscribe();
  assert.equal(feed.subscriptions, 0);
});
