/**
 * The change feed against a real Postgres: every committed event reaches the subscribers of its lab
 * once, in commit order, including one whose transaction took a lower id and committed later; lab
 * status changes are announced; while nobody subscribes the feed does not LISTEN and is not
 * registered, so inserting events notifies nobody (migration 0019), and a subscriber of an idle feed
 * gets each event committed after its subscribe resolved, once, and none from before, also when a
 * transaction that inserted an event before the registration commits after it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase, waitFor } from '@glassdome/testkit';
import { sql } from 'kysely';
import pg from 'pg';
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

/** Waits until the feed's connection is registered as a listener (`listening`) or not. */
async function feedRegistered(listening: boolean): Promise<void> {
  await waitFor(`the feed ${listening ? '' : 'not '}to be registered`, async () => {
    const { rows } = await sql<{ registered: boolean }>`SELECT EXISTS (SELECT 1 FROM change_feed_listeners l
      JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = ${CHANGE_FEED_APPLICATION}) AS registered`.execute(
      db,
    );
    return rows[0]?.registered === listening;
  });
}

/** A connection of the test's own that LISTENs (unregistered): what a statement notifies, if anything. */
async function eavesdrop(): Promise<{ heard: string[]; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const heard: string[] = [];
  client.on('notification', (message) => heard.push(message.payload ?? ''));
  await client.query('LISTEN glassdome_changes');
  return { heard, close: () => client.end() };
}

/** A round trip on the eavesdropper's channel: notifications sent before it have been delivered. */
async function settled(): Promise<void> {
  await sql`SELECT pg_notify('glassdome_changes', 'probe')`.execute(db);
}

test('events notify only while a feed listens; a later subscriber gets what commits after it, once', async () => {
  const labId = await lab('feed-idle');
  await feedRegistered(false);
  const ear = await eavesdrop();
  try {
    // Committed while nobody listens: history, not the next subscriber's live events, and no notification.
    await appendEvent(db, { labId, kind: 'test', message: 'while idle' });
    await settled();
    await waitFor('the probe', () => ear.heard.includes('probe'));
    assert.deepEqual(ear.heard, ['probe'], 'an event inserted while no feed listens notifies nobody');
    const seen: FeedEvent[] = [];
    const unsubscribe = await feed.subscribe(labId, {
      onEvents: (events) => seen.push(...events),
      onStatus: () => {},
    });
    await feedRegistered(true);
    await appendEvent(db, { labId, kind: 'test', message: 'after the subscribe' });
    await waitFor('the notification', () => ear.heard.some((payload) => payload.startsWith('event:')));
    await appendEvent(db, { labId, kind: 'test', message: 'and another' });
    await waitFor('both live events', () => seen.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      seen.map((event) => event.message),
      ['after the subscribe', 'and another'],
    );
    unsubscribe();
    await feedRegistered(false);
  } finally {
    await ear.close();
  }
});

test('a subscribe waits for a transaction that inserted an event unnotified; that event is history', async () => {
  const labId = await lab('feed-race');
  await feedRegistered(false);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  // Inserted before any feed is registered (its trigger sees no listener), committed later.
  let inserted!: () => void;
  const insertedYet = new Promise<void>((resolve) => {
    inserted = resolve;
  });
  const slow = inTransaction(db, async (trx) => {
    await appendEvent(trx, { labId, kind: 'test', message: 'inserted before the registration' });
    inserted();
    await held;
  });
  await insertedYet;
  const seen: FeedEvent[] = [];
  let subscribed = false;
  const subscribing = feed
    .subscribe(labId, { onEvents: (events) => seen.push(...events), onStatus: () => {} })
    .then((unsubscribe) => {
      subscribed = true;
      return unsubscribe;
    });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(subscribed, false, 'the subscribe waits for the transaction that did not notify');
  release();
  await slow;
  const unsubscribe = await subscribing;
  await appendEvent(db, { labId, kind: 'test', message: 'after the subscribe' });
  await waitFor('the live event', () => seen.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(
    seen.map((event) => event.message),
    ['after the subscribe'],
    'the unnotified event committed before the feed started reading: it is history, not lost in between',
  );
  unsubscribe();
  await feedRegistered(false);
});

test('a listener row left by a connection that is gone is forgotten when a feed starts', async () => {
  await sql`INSERT INTO change_feed_listeners (pid) VALUES (2147483000)`.execute(db);
  const another = await new ChangeFeed(db, database.url, { catchUpMs: 60_000 }).start();
  await another.close();
  const { rows } = await sql<{ pid: number }>`SELECT pid FROM change_feed_listeners`.execute(db);
  assert.deepEqual(rows, []);
});

test('a subscriber whose feed lost its connection gets what committed meanwhile, once, after the reconnect', async () => {
  const labId = await lab('feed-lost');
  const seen: FeedEvent[] = [];
  const unsubscribe = await feed.subscribe(labId, { onEvents: (events) => seen.push(...events), onStatus: () => {} });
  await feedRegistered(true);
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
