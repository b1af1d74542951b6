/**
 * Deleting a named network settles: while the node cannot be reached an attempt fails and the
 * network stays `deleting` for the next one; the last attempt leaves it `failed` with the reason
 * (before, it stayed `deleting` for good); an admin's second DELETE then removes the VNet, the
 * lease and the row.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ALL_PROJECTS,
  type Db,
  getNetwork,
  insertNetwork,
  listNetworkLeases,
  markNetworkDeleting,
} from '@glassdome/db';
import type { JobContext } from '@glassdome/queue';
import type { GatewayContext } from '../src/context';
import { createNamedNetwork, deleteNamedNetwork } from '../src/network';
import { type GatewayHarness, startGatewayHarness } from './harness';

let harness: GatewayHarness;
let db: Db;
let ctx: GatewayContext;

before(async () => {
  harness = await startGatewayHarness('named-network-delete', (sim) => ({
    PROXMOX_NODE: sim.info.node,
    PROXMOX_BRIDGE: 'vmbr0',
    PROXMOX_TOKEN_ID: sim.info.tokenId,
    NETWORK_MODE: 'sdn',
    SDN_ZONE: 'gdnet',
    NETWORK_VLAN_RANGE: '2000-2999',
    FIREWALL_AUTO_ENABLE: true,
  }));
  ({ db, ctx } = harness);
});

after(() => harness?.close());

/** What a handler sees of attempt `made + 1` of `attempts`. */
const attempt = (made: number, attempts = 3) =>
  ({
    job: { attemptsMade: made, opts: { attempts } },
    token: undefined,
    signal: new AbortController().signal,
  }) as unknown as JobContext;

const vnetsOfZone = async () => {
  const listed = await ctx.ssh.exec(ctx.node, ['pvesh', 'get', '/cluster/sdn/vnets', '--output-format', 'json']);
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
