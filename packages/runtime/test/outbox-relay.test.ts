/**
 * The relay's sends of committed intents (sendCommitted), against a Redis of its own (so it can be
 * stopped and frozen) and a real Postgres: one batch in flight at a time, the rows handed meanwhile
 * together in the next, which leaves a gap after the previous one under load; a refused or unanswered send leaves its rows in the outbox for a pass; sent
 * rows are deleted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createDb, type Db, insertOutboxIntent, migrateToLatest } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { jobIntent, Producer } from '@glassdome/queue';
import {
  createTestDatabase,
  freePort,
  type RunningProcess,
  startProcess,
  type TestDatabase,
  waitFor,
} from '@glassdome/testkit';
import { OutboxRelay } from '../src/index';

let database: TestDatabase;
let db: Db;
let port: number;
let redis: RunningProcess;
let producer: Producer;
const logger = createLogger({ name: 'outbox-relay-test', level: 'silent', format: 'json' });

async function startRedis(): Promise<RunningProcess> {
  const child = startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { name: 'redis-server' },
  );
  await child.waitForOutput('Ready to accept connections', 15_000);
  return child;
}

before(async () => {
  database = await createTestDatabase('runtime-outbox-relay');
  db = createDb(database.url);
  await migrateToLatest(db);
  port = await freePort();
  redis = await startRedis();
  producer = await Producer.open(`redis://127.0.0.1:${port}`, 'relay-test');
});

after(async () => {
  redis.child.kill('SIGCONT');
  await producer?.close();
  await redis?.stop();
  await db?.destroy();
  await database?.drop();
});

/** A committed deploy intent (its outbox row), as a writer hands it to the relay. */
async function committed(): Promise<{ id: number; intent: unknown; jobId: string }> {
  const vmId = randomUUID();
  const intent = jobIntent('vm.deploy', { vmId }, `vm-deploy.${vmId}`);
  return { id: await insertOutboxIntent(db, intent as never), intent, jobId: `vm-deploy.${vmId}` };
}

const outboxIds = async () => (await db.selectFrom('outbox').select('id').execute()).map((row) => Number(row.id));
const inRedis = async (jobId: string) => Boolean(await producer.queues.vm.getJob(jobId));
const execFileAsync = promisify(execFile);
const turn = () => new Promise((resolve) => setImmediate(resolve));

test('rows handed while a send is in flight go together in the next one; every job lands once and its row goes', async () => {
  const relay = new OutboxRelay(db, producer, logger);
  const first = await committed();
  const second = await committed();
  const third = await committed();
  // A frozen server keeps the first addBulk in flight for as many turns as the test needs.
  redis.child.kill('SIGSTOP');
  let sentFirst: Promise<void>;
  let sentSecond: Promise<void>;
  let sentThird: Promise<void>;
  try {
    sentFirst = relay.sendCommitted([first]);
    // The first batch leaves once this turn is over.
    await turn();
    sentSecond = relay.sendCommitted([second]);
    await turn();
    sentThird = relay.sendCommitted([third]);
    await turn();
  } finally {
    redis.child.kill('SIGCONT');
  }
  assert.notEqual(sentSecond, sentFirst, 'the first batch had left');
  assert.equal(sentThird, sentSecond, 'handed in two turns while the first was in flight: one batch');
  await Promise.all([sentFirst, sentSecond, sentThird]);
  for (const row of [first, second, third]) assert.ok(await inRedis(row.jobId), `${row.jobId} in BullMQ`);
  // Their rows are deleted a moment later with nobody's statement to carry them (SENT_DELETE_MS).
  await waitFor('the sent rows deleted', async () => (await outboxIds()).length === 0, { timeoutMs: 5_000 });
  await relay.stop();
});

test('under load a send waits SEND_GAP_MS after the previous one, gathering the rows handed meanwhile', async () => {
  // A gap no busy machine's first addBulk outlasts, so the second batch surely waits for it.
  const relay = new OutboxRelay(db, producer, logger, { sendGapMs: 1_000 });
  const first = await committed();
  const second = await committed();
  const third = await committed();
  await relay.sendCommitted([first]);
  // Redis answered within the gap: the next batch waits for it to pass, taking rows of later turns too.
  const sentSecond = relay.sendCommitted([second]);
  await turn();
  await turn();
  const sentThird = relay.sendCommitted([third]);
  assert.equal(sentThird, sentSecond, 'handed two turns apart, right after a send: one batch');
  await sentThird;
  for (const row of [first, second, third]) assert.ok(await inRedis(row.jobId), `${row.jobId} in BullMQ`);
  await relay.stop();
  await waitFor('the sent rows deleted', async () => (await outboxIds()).length === 0, { timeoutMs: 5_000 });
});

test('a refused send rejects and leaves its rows in the outbox; the next pass sends them', async () => {
  const relay = new OutboxRelay(db, producer, logger);
  await redis.stop();
  await waitFor('the producer to see Redis gone', () => producer.connection.status !== 'ready');
  const row = await committed();
  await assert.rejects(relay.sendCommitted([row]));
  assert.deepEqual(await outboxIds(), [row.id], 'kept for the next pass');
  redis = await startRedis();
  await waitFor('the producer back', () => producer.connection.status === 'ready', { timeoutMs: 20_000 });
  await relay.flush();
  assert.ok(await inRedis(row.jobId));
  assert.deepEqual(await outboxIds(), []);
  await relay.stop();
});

test('a Redis that never answers holds a send only sendTimeoutMs, and the batches waiting behind it fail with it; the rows stay', async () => {
  // One intent per addBulk: the first in flight, two more batches waiting behind it.
  const relay = new OutboxRelay(db, producer, logger, { sendTimeoutMs: 300, batch: 1 });
  const early = await committed();
  const late = await committed();
  const later = await committed();
  redis.child.kill('SIGSTOP');
  try {
    const started = Date.now();
    const sentEarly = relay.sendCommitted([early]);
    await turn();
    const sentLate = relay.sendCommitted([late]);
    const sentLater = relay.sendCommitted([later]);
    assert.notEqual(sentLate, sentLater, 'two batches wait');
    await assert.rejects(sentEarly, /did not answer/);
    await assert.rejects(sentLate, /did not answer/);
    await assert.rejects(sentLater, /did not answer/);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 850, `one timeout for the three batches: ${waited} ms`);
    assert.deepEqual((await outboxIds()).sort(), [early.id, late.id, later.id].sort(), 'every row kept');
  } finally {
    redis.child.kill('SIGCONT');
  }
  // Whatever the frozen server took meanwhile may land too: job ids are deterministic, so the pass
  // that sends the kept rows again adds each job once.
  await relay.flush();
  for (const row of [early, late, later]) assert.ok(await inRedis(row.jobId));
  assert.equal((await producer.queues.vm.getJobs(['waiting'])).filter((job) => job.id === early.jobId).length, 1);
  assert.deepEqual(await outboxIds(), []);
  await relay.stop();
});

test('a pass against a Redis that never answers gives up after sendTimeoutMs: its transaction ends, its rows stay', async () => {
  const relay = new OutboxRelay(db, producer, logger, { sendTimeoutMs: 300 });
  const row = await committed();
  redis.child.kill('SIGSTOP');
  try {
    const started = Date.now();
    await assert.rejects(relay.flush(), /did not answer/);
    const waited = Date.now() - started;
    assert.ok(waited >= 250 && waited < 5_000, `given up after the timeout: ${waited} ms`);
    // The row is kept with the attempt counted, and no transaction holds it any more.
    const kept = await db
      .transaction()
      .execute((trx) =>
        trx.selectFrom('outbox').select(['id', 'attempts']).where('id', '=', row.id).forUpdate().noWait().execute(),
      );
    assert.deepEqual(
      kept.map((each) => [Number(each.id), each.attempts]),
      [[row.id, 1]],
    );
  } finally {
    redis.child.kill('SIGCONT');
  }
  await relay.flush();
  assert.ok(await inRedis(row.jobId));
  assert.deepEqual(await outboxIds(), []);
  await relay.stop();
});

test('stop waits for the sends under way and deletes the sent rows', async () => {
  const relay = new OutboxRelay(db, producer, logger);
  const row = await committed();
  const sent = relay.sendCommitted([row]);
  await relay.stop();
  await sent;
  assert.ok(await inRedis(row.jobId));
  assert.deepEqual(await outboxIds(), []);
});

test('an idle relay timer reads the outbox without opening a pass, and still relays an intent a crashed writer never sent', async () => {
  await db.deleteFrom('outbox').execute();
  let transactions = 0;
  // The relay's own handle on the database, counting the transactions it opens (a pass is one).
  const counted = new Proxy(db, {
    get(target, key) {
      if (key === 'transaction') transactions += 1;
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const relay = new OutboxRelay(counted, producer, logger, { intervalMs: 20 }).start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(transactions, 0);
    // Committed and never handed to a relay: a writer that crashed right after its commit.
    const orphan = await committed();
    await waitFor(
      'the orphan relayed and its row gone',
      async () => (await inRedis(orphan.jobId)) && (await outboxIds()).length === 0,
      {
        timeoutMs: 5_000,
      },
    );
    assert.ok(transactions >= 1);
  } finally {
    await relay.stop();
  }
});

test('stop waits for the timer read in flight, and a read that ends after stop opens no pass', async () => {
  await db.deleteFrom('outbox').execute();
  const orphan = await committed();
  // Another session holds the outbox locked for a second, so the timer read waits until it lets go.
  const holder = execFileAsync('psql', [
    database.url,
    '-c',
    'BEGIN; LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT;',
  ]);
  try {
    await waitFor(
      'the outbox locked',
      async () => {
        const { stdout } = await execFileAsync('psql', [
          database.url,
          '-Atc',
          "SELECT count(*) FROM pg_locks WHERE relation = 'outbox'::regclass AND mode = 'AccessExclusiveLock'",
        ]);
        return stdout.trim() === '1';
      },
      { timeoutMs: 5_000 },
    );
    const relay = new OutboxRelay(db, producer, logger, { intervalMs: 20 }).start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    let stopped = false;
    const stopping = relay.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(stopped, false, 'stop returned while the timer read was in flight');
    await stopping;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await inRedis(orphan.jobId), false, 'a pass ran after stop');
    assert.deepEqual(await outboxIds(), [orphan.id]);
  } finally {
    await holder.catch(() => undefined);
    await db.deleteFrom('outbox').execute();
  }
});
