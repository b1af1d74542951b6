/**
 * Lab networks reconciled by the overseer, end to end on the simulator (issue 13): a VNet made in
 * Glassdome's zone behind its back, a lease whose lab does not exist, and a destroyed lab whose network
 * release never ran are each reported and cleaned up — the VNets deleted and applied, the leases
 * released — while a live lab's own VNet is left alone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createDb,
  type Db,
  insertNetwork,
  insertNetworkLease,
  listNetworkLeases,
  networkLeaseOwner,
} from '@glassdome/db';
import { type Proxmox, vnetIdOfTag } from '@glassdome/proxmox';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import { apiCaller, type IsolatedStack, simulatorRoot, startIsolatedStack, waitFor } from '@glassdome/testkit';

let isolated: IsolatedStack;
let db: Db;
let root: Proxmox;
let api: ReturnType<typeof apiCaller>;
before(async () => {
  isolated = await startIsolatedStack(
    {
      installers: 1,
      overseer: true,
      env: {
        OVERSEER_SCAN_SECONDS: '1',
        OVERSEER_SSH_PROBE: '0',
        OVERSEER_REMEDIATIONS: 'release-network,delete-vnet',
        OVERSEER_ORPHAN_GRACE_SECONDS: '0',
        OVERSEER_REMEDIATION_BACKOFF_SECONDS: '1',
        ISOLATION_CHECK_SECONDS: '20',
        SSH_TIMEOUT_SECONDS: '20',
        API_RATE_LIMIT: '100000',
      },
    },
    {},
    'network_reconcile',
  );
  db = createDb(isolated.database.url);
  root = simulatorRoot(isolated.sim.info);
  api = apiCaller(isolated.stack.apiUrl, isolated.stack.adminKey);
});
after(async () => {
  root?.close();
  await db?.destroy();
  await isolated?.stop();
});

type Alert = { kind: string; state: string; subject: string };

async function alertsOf(kind: string): Promise<Alert[]> {
  const { body } = await api('GET', '/api/v1/alerts?limit=100');
  return ((body.items ?? []) as Alert[]).filter((alert) => alert.kind === kind);
}

/** The VNets Proxmox has applied (`running=1`), as root sees them. */
async function appliedVnets(): Promise<string[]> {
  const vnets = await root.client.get<{ vnet: string }[]>('/cluster/sdn/vnets', { running: 1 });
  return vnets.map((vnet) => vnet.vnet).sort();
}

/** A VNet in Glassdome's zone made as root, applied: what a person or a half-done tear-down leaves. */
async function makeVnetAsRoot(vnet: string, tag: number) {
  await root.client.post('/cluster/sdn/vnets', { vnet, zone: 'gdlab', tag });
  await root.client.put('/cluster/sdn', {});
}

let labId: string;
let labVnet: string;

test('a lab with one network deploys; its VNet is leased', async () => {
  const accepted = await api('POST', '/api/v1/labs', {
    name: 'netrec',
    networks: [{ name: 'lan', cidr: '10.20.0.0/24' }],
    vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'] }],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  labId = String(accepted.body.id);
  const lab = await waitFor(
    'the lab to settle',
    async () => {
      const { body } = await api('GET', `/api/v1/labs/${labId}`);
      return ['ready', 'failed', 'degraded'].includes(String(body.status)) ? body : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 500 },
  );
  assert.equal(lab.status, 'ready', JSON.stringify(lab));
  const leases = await listNetworkLeases(db, { labId });
  assert.equal(leases.length, 1);
  labVnet = vnetIdOfTag(leases[0]!.tag);
  assert.ok((await appliedVnets()).includes(labVnet));
});

test('a VNet made behind Glassdome’s back and a lease whose lab is gone are reported, then cleaned up', async () => {
  await makeVnetAsRoot('gdvzzz', 4000);
  const goneLab = '00000000-0000-4000-8000-00000000dead';
  assert.ok(
    await insertNetworkLease(db, {
      platformId: DEFAULT_PLATFORM,
      tag: 4001,
      owner: `${goneLab}:net.lan.0`,
      labId: goneLab,
      network: 'lan',
    }),
  );
  const leakedVnet = vnetIdOfTag(4001);
  await makeVnetAsRoot(leakedVnet, 4001);

  await waitFor(
    'network-orphan and network-leaked alerts',
    async () =>
      (await alertsOf('network-orphan')).some((alert) => alert.subject === 'vnet/gdvzzz') &&
      (await alertsOf('network-leaked')).some((alert) => alert.subject === `lab/${goneLab}`),
    { timeoutMs: 60_000 },
  );
  // Only what no live lab holds is reported: the lab's own VNet and lease are not.
  const reported = [...(await alertsOf('network-orphan')), ...(await alertsOf('network-leaked'))].map((a) => a.subject);
  assert.ok(!reported.includes(`vnet/${labVnet}`) && !reported.includes(`lab/${labId}`), reported.join(', '));
  assert.deepEqual(await alertsOf('network-unreadable'), []);

  await waitFor(
    'the orphan and the leaked VNet deleted and applied, the lease released',
    async () => {
      const vnets = await appliedVnets();
      const leases = await listNetworkLeases(db, { labId: goneLab });
      return !vnets.includes('gdvzzz') && !vnets.includes(leakedVnet) && leases.length === 0;
    },
    { timeoutMs: 60_000 },
  );
  assert.ok((await appliedVnets()).includes(labVnet), "the live lab's VNet stays");
  await waitFor(
    'both alerts resolved',
    async () =>
      [...(await alertsOf('network-orphan')), ...(await alertsOf('network-leaked'))].every(
        (alert) => alert.state === 'resolved',
      ),
    { timeoutMs: 60_000 },
  );
});

test('a destroyed lab whose network release never ran has it re-driven', async () => {
  const deleted = await api('DELETE', `/api/v1/labs/${labId}`);
  assert.ok([200, 202].includes(deleted.status), JSON.stringify(deleted.body));
  await waitFor(
    'the lab destroyed',
    async () => (await api('GET', `/api/v1/labs/${labId}`)).body.status === 'destroyed',
    { timeoutMs: 120_000 },
  );
  assert.ok(!(await appliedVnets()).includes(labVnet), 'the tear-down released its VNet');
  // The state a lost `network.release` leaves: the lab destroyed, a lease and its VNet still there.
  assert.ok(
    await insertNetworkLease(db, {
      platformId: DEFAULT_PLATFORM,
      tag: 4002,
      owner: `${labId}:net.late.0`,
      labId,
      network: 'late',
    }),
  );
  await makeVnetAsRoot(vnetIdOfTag(4002), 4002);
  await waitFor(
    'the release re-driven: the lease gone and the VNet deleted',
    async () =>
      (await listNetworkLeases(db, { labId })).length === 0 && !(await appliedVnets()).includes(vnetIdOfTag(4002)),
    { timeoutMs: 60_000 },
  );
  const leaked = await alertsOf('network-leaked');
  assert.ok(leaked.some((alert) => alert.subject === `lab/${labId}`));
  // The lab stays destroyed (the release marks it so again, idempotently).
  assert.equal((await api('GET', `/api/v1/labs/${labId}`)).body.status, 'destroyed');
});

test('without SDN.Audit for the token’s user on the zone, VNets cannot be compared: network-unreadable says so', async () => {
  // What the removed report ran into: a privilege-separated token holds only what its user also holds,
  // so with the role granted to the token alone Proxmox lists no VNet and nothing looks leaked.
  const kept = await insertNetwork(db, {
    platformId: DEFAULT_PLATFORM,
    project: 'default',
    name: 'kept',
    cidr: null,
    createdBy: null,
  });
  assert.ok(
    await insertNetworkLease(db, {
      platformId: DEFAULT_PLATFORM,
      tag: 4003,
      owner: networkLeaseOwner(kept.id),
      labId: null,
      network: 'kept',
    }),
  );
  const user = isolated.sim.info.tokenId.split('!')[0]!;
  const grant = { path: '/sdn/zones/gdlab', roles: ['PVESDNUser'], users: [user] };
  await root.access.revoke(grant);
  try {
    await waitFor(
      'a network-unreadable alert',
      async () => (await alertsOf('network-unreadable')).some((alert) => alert.state === 'open'),
      { timeoutMs: 60_000 },
    );
  } finally {
    await root.access.grant(grant);
  }
  await waitFor(
    'the alert resolved once the grant is back',
    async () => (await alertsOf('network-unreadable')).every((alert) => alert.state === 'resolved'),
    { timeoutMs: 60_000 },
  );
  // A named network that exists holds its lease: nothing leaked.
  const leaked = await alertsOf('network-leaked');
  assert.ok(!leaked.some((alert) => alert.subject === `network/${kept.id}`));
});

test('the lease of a named network whose row is gone is released', async () => {
  const gone = '00000000-0000-4000-8000-0000000000bb';
  assert.ok(
    await insertNetworkLease(db, {
      platformId: DEFAULT_PLATFORM,
      tag: 4004,
      owner: networkLeaseOwner(gone),
      labId: null,
      network: 'gone',
    }),
  );
  await makeVnetAsRoot(vnetIdOfTag(4004), 4004);
  await waitFor(
    'the lease released and its VNet deleted',
    async () =>
      !(await listNetworkLeases(db)).some((lease) => lease.owner === networkLeaseOwner(gone)) &&
      !(await appliedVnets()).includes(vnetIdOfTag(4004)),
    { timeoutMs: 60_000 },
  );
  assert.ok((await alertsOf('network-leaked')).some((alert) => alert.subject === `network/${gone}`));
});
