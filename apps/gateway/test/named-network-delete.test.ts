/**
 * Deleting a named network settles: while the node cannot be reached an attempt fails and the
 * network stays `deleting` for the next one; the last attempt leaves it `failed` with the reason
 * (before, it stayed `deleting` for good); an admin's second DELETE then removes the VNet, the
 * lease and the row.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  ALL_PROJECTS,
  createDb,
  type Db,
  getNetwork,
  insertNetwork,
  listNetworkLeases,
  markNetworkDeleting,
  migrateToLatest,
} from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createProxmox, type Proxmox } from '@glassdome/proxmox';
import type { JobContext } from '@glassdome/queue';
import { SshPool, type SshTarget } from '@glassdome/ssh';
import { createTestDatabase, startSimulator, type TestDatabase, type TestSimulator } from '@glassdome/testkit';
import type { GatewayContext } from '../src/context';
import type { GatewayEnv } from '../src/env';
import { createNamedNetwork, deleteNamedNetwork } from '../src/network';

let sim: TestSimulator;
let database: TestDatabase;
let db: Db;
let ssh: SshPool;
let pve: Proxmox;
let ctx: GatewayContext;

before(async () => {
  sim = await startSimulator();
  database = await createTestDatabase('named-network-delete');
  db = createDb(database.url);
  await migrateToLatest(db);
  ssh = new SshPool();
  pve = createProxmox({
    baseUrl: sim.info.apiUrl,
    node: sim.info.node,
    auth: { tokenId: sim.info.tokenId, tokenSecret: sim.info.tokenSecret },
  });
  const node: SshTarget = {
    host: '127.0.0.1',
    port: sim.info.sshPort,
    username: 'root',
    privateKey: readFileSync(sim.info.sshPrivateKeyPath!, 'utf8'),
    hostKey: { kind: 'pinned', fingerprints: [sim.info.sshHostKeyFingerprint] },
  };
  const env = {
    PROXMOX_NODE: sim.info.node,
    PROXMOX_BRIDGE: 'vmbr0',
    PROXMOX_TOKEN_ID: sim.info.tokenId,
    NETWORK_MODE: 'sdn',
    SDN_ZONE: 'gdnet',
    NETWORK_VLAN_RANGE: '2000-2999',
    FIREWALL_AUTO_ENABLE: true,
  } as GatewayEnv;
  const logger = createLogger({
    name: 'gw-test',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  ctx = { env, db, producer: undefined as never, pve, ssh, node, logger };
});

after(async () => {
  ssh?.close();
  pve?.close();
  await db?.destroy();
  await database?.drop();
  await sim?.stop();
});

/** What a handler sees of attempt `made + 1` of `attempts`. */
const attempt = (made: number, attempts = 3) =>
  ({
    job: { attemptsMade: made, opts: { attempts } },
    token: undefined,
    signal: new AbortController().signal,
  }) as unknown as JobContext;

const vnetsOfZone = async () => {
  const listed = await ssh.exec(ctx.node, ['pvesh', 'get', '/cluster/sdn/vnets', '--output-format', 'json']);
  return (JSON.parse(listed.stdout) as { vnet: string; zone: string }[]).filter((v) => v.zone === 'gdnet');
};

test('a delete that fails on its last attempt leaves the network failed, and a second DELETE removes it', async () => {
  const network = await insertNetwork(db, {
    platformId: 'default',
    project: 'blue',
    name: 'range',
    cidr: null,
    createdBy: null,
  });
  assert.equal((await createNamedNetwork(ctx, network.id, attempt(0))).status, 'ready');
  assert.equal((await vnetsOfZone()).length, 1, 'the network is a VNet of the zone');
  assert.equal((await markNetworkDeleting(db, network.id)).ok, true);

  const reachable = ctx.node;
  ctx.node = { ...reachable, port: 1 }; // nothing listens there: the node is unreachable
  try {
    await assert.rejects(deleteNamedNetwork(ctx, network.id, attempt(0)));
    assert.equal((await getNetwork(db, network.id, ALL_PROJECTS))?.status, 'deleting', 'another attempt follows');
    await assert.rejects(deleteNamedNetwork(ctx, network.id, attempt(2)));
  } finally {
    ctx.node = reachable;
  }
  const failed = await getNetwork(db, network.id, ALL_PROJECTS);
  assert.equal(failed?.status, 'failed', 'the last attempt settles the network');
  assert.match(failed?.error ?? '', /^delete failed: /);
  assert.equal((await vnetsOfZone()).length, 1, 'nothing was removed');

  assert.equal((await markNetworkDeleting(db, network.id)).ok, true, 'a failed network may be deleted again');
  const done = await deleteNamedNetwork(ctx, network.id, attempt(0));
  assert.equal(done.deleted, true);
  assert.equal(await getNetwork(db, network.id, ALL_PROJECTS), undefined);
  assert.deepEqual(await vnetsOfZone(), []);
  assert.deepEqual(await listNetworkLeases(db, {}), []);
});
