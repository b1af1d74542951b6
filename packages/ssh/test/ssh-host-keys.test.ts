import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listSshHostKeys, migrateToLatest, PostgresHostKeyStore } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { HostKeyMismatchError, type HostKeyStore, type SshPool, type SshTarget } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, startTcpProxy, type TcpProxy, type TestSshd } from './support';

let sshdA: TestSshd;
let sshdB: TestSshd;
let proxy: TcpProxy;
let database: TestDatabase;
let db: Db;
const pools: SshPool[] = [];

before(async () => {
  [sshdA, sshdB, database] = await Promise.all([startSshd(), startSshd(), createTestDatabase('ssh_host_keys')]);
  db = createDb(database.url);
  await migrateToLatest(db);
  proxy = await startTcpProxy(sshdA.port);
});

after(async () => {
  for (const pool of pools) pool.close();
  await proxy.stop();
  await db.destroy();
  await Promise.all([sshdA.stop(), sshdB.stop(), database.drop()]);
});

function freshPool(): SshPool {
  const { pool } = capturedPool();
  pools.push(pool);
  return pool;
}

/** `sshd` reached through the proxy: its own client key (each test sshd has one), the given host-key policy. */
function throughProxy(sshd: TestSshd, hostKey: SshTarget['hostKey']): SshTarget {
  return pinnedTarget(sshd, { port: proxy.port, hostKey });
}

test('the pinned host key is accepted', async () => {
  const result = await freshPool().exec(pinnedTarget(sshdA), ['echo', 'ok']);
  assert.equal(result.stdout, 'ok\n');
});

test('a wrong pinned key is refused with both fingerprints named', async () => {
  const target = pinnedTarget(sshdA, { hostKey: { kind: 'pinned', fingerprints: [sshdB.hostKeyFingerprint] } });
  const pool = freshPool();
  const error = await pool.exec(target, ['echo', 'never']).catch((e) => e);
  assert.ok(error instanceof HostKeyMismatchError, String(error));
  assert.equal(error.received, sshdA.hostKeyFingerprint);
  assert.deepEqual(error.expected, [sshdB.hostKeyFingerprint]);
  assert.ok(error.message.includes(sshdA.hostKeyFingerprint) && error.message.includes(sshdB.hostKeyFingerprint));
  assert.equal(pool.stats().connections, 0);
});

test('trust on first use records the key in Postgres, then refuses a changed key', async () => {
  const store = new PostgresHostKeyStore(db) satisfies HostKeyStore;
  const tofu = { kind: 'tofu', store } as const;
  proxy.forwardTo(sshdA.port);
  await freshPool().exec(throughProxy(sshdA, tofu), ['true']);
  const [row] = await listSshHostKeys(db, { port: proxy.port });
  assert.ok(row);
  assert.equal(row.host, '127.0.0.1');
  assert.equal(row.fingerprint, sshdA.hostKeyFingerprint);
  assert.equal(row.key_type, 'ssh-ed25519');

  await freshPool().exec(throughProxy(sshdA, tofu), ['true']);

  // Same host and port, another server behind it: the key changed.
  proxy.forwardTo(sshdB.port);
  const error = await freshPool()
    .exec(throughProxy(sshdB, tofu), ['true'])
    .catch((e) => e);
  assert.ok(error instanceof HostKeyMismatchError, String(error));
  assert.deepEqual(error.expected, [sshdA.hostKeyFingerprint]);
  assert.equal(error.received, sshdB.hostKeyFingerprint);
  assert.equal(await store.get('127.0.0.1', proxy.port), sshdA.hostKeyFingerprint);

  // An operator who knows the host was reinstalled forgets the old key; the next connection trusts anew.
  await store.forget('127.0.0.1', proxy.port);
  await freshPool().exec(throughProxy(sshdB, tofu), ['true']);
  assert.equal(await store.get('127.0.0.1', proxy.port), sshdB.hostKeyFingerprint);
});

test('workers meeting a new host at once agree on one recorded key', async () => {
  const store = new PostgresHostKeyStore(db);
  const target = pinnedTarget(sshdA, { hostKey: { kind: 'tofu', store } });
  await Promise.all(Array.from({ length: 4 }, () => freshPool().exec(target, ['true'])));
  const rows = await listSshHostKeys(db, { port: sshdA.port });
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.fingerprint, sshdA.hostKeyFingerprint);
});
