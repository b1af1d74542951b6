/**
 * Named networks end to end on the simulator (issue 13, item 4): an admin gives a project a network,
 * the gateway makes it a VNet with a leased tag, a VM of that project names it and its first NIC lands
 * on the VNet (its management NIC on the default bridge); another project cannot name it or see it;
 * a network in use cannot be deleted; once its VM is gone it is, with its VNet and lease.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDb, type Db, listNetworkLeases } from '@glassdome/db';
import { apiCaller, type IsolatedStack, simulatorRoot, startIsolatedStack, waitFor } from '@glassdome/testkit';

let isolated: IsolatedStack;
let db: Db;
let root: ReturnType<typeof simulatorRoot>;
let admin: ReturnType<typeof apiCaller>;
before(async () => {
  isolated = await startIsolatedStack(
    { installers: 1, env: { API_RATE_LIMIT: '100000', SSH_TIMEOUT_SECONDS: '20' } },
    {},
    'named_networks',
  );
  db = createDb(isolated.database.url);
  root = simulatorRoot(isolated.sim.info);
  admin = apiCaller(isolated.stack.apiUrl, isolated.stack.adminKey);
});
after(async () => {
  root?.close();
  await db?.destroy();
  await isolated?.stop();
});

const as = (key: string, method: string, path: string, body?: unknown) =>
  apiCaller(isolated.stack.apiUrl, key)(method, path, body);

/** The VMs' API record once it settled. */
function settledVm(id: string, statuses: string[], timeoutMs: number) {
  return waitFor(
    `VM ${id} to reach ${statuses.join('|')}`,
    async () => {
      const { body } = await admin('GET', `/api/v1/vms/${id}`);
      return statuses.includes(String(body.status)) ? body : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** The fields a 400 names (the error envelope's details). */
function fieldsOf(answer: { body: Record<string, unknown> }): string[] {
  const error = answer.body.error as { details?: { path: string }[] } | undefined;
  return (error?.details ?? []).map((issue) => issue.path).sort();
}

async function keyOf(project: string, role: string): Promise<string> {
  const made = await admin('POST', '/api/v1/keys', { name: `${project}-${role}`, role, project });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return String(made.body.key);
}

/** The VNets Proxmox has applied (`running=1`), as root sees them. */
const appliedVnets = () =>
  root.client.get<{ vnet: string; zone: string; tag: number }[]>('/cluster/sdn/vnets', { running: 1 });

let blue: string;
let red: string;
let network: { id: string; bridge: string };
let vmId: string;

test('an admin gives project blue a network; the gateway makes it a VNet of a leased tag', async () => {
  blue = await keyOf('blue', 'operator');
  red = await keyOf('red', 'operator');
  const refused = await as(blue, 'POST', '/api/v1/networks', { name: 'range', project: 'blue' });
  assert.equal(refused.status, 403, 'only an admin gives networks');
  const bad = await admin('POST', '/api/v1/networks', { name: 'Range!', project: 'blue', cidr: '10.30.0.5/24' });
  assert.equal(bad.status, 400);
  assert.deepEqual(fieldsOf(bad), ['cidr', 'name']);

  const made = await admin('POST', '/api/v1/networks', { name: 'range', project: 'blue', cidr: '10.30.0.0/24' });
  assert.equal(made.status, 202, JSON.stringify(made.body));
  assert.equal(made.body.status, 'creating');
  const again = await admin('POST', '/api/v1/networks', { name: 'range', project: 'blue' });
  assert.equal(again.status, 409, 'one name per project');
  const id = String(made.body.id);
  const ready = await waitFor(
    'the network ready',
    async () => {
      const { body } = await as(blue, 'GET', `/api/v1/networks/${id}`);
      return body.status === 'ready' || body.status === 'failed' ? body : undefined;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(ready.status, 'ready', JSON.stringify(ready));
  network = { id, bridge: String(ready.bridge) };
  const lease = (await listNetworkLeases(db)).find((row) => row.owner === `network:${id}`);
  assert.ok(lease, 'its tag is leased');
  const vnet = (await appliedVnets()).find((row) => row.vnet === network.bridge);
  assert.deepEqual(vnet && { zone: vnet.zone, tag: vnet.tag }, { zone: 'gdlab', tag: lease.tag });

  assert.equal((await as(red, 'GET', `/api/v1/networks/${id}`)).status, 404, "another project's is a 404");
  assert.deepEqual((await as(red, 'GET', '/api/v1/networks')).body.items, []);
  const listed = (await as(blue, 'GET', '/api/v1/networks')).body.items as { name: string }[];
  assert.deepEqual(
    listed.map((item) => item.name),
    ['range'],
  );
});

test("a VM of another project cannot name it; one of blue's lands on it", async () => {
  const foreign = await as(red, 'POST', '/api/v1/vms', {
    name: 'red-box',
    os: 'ubuntu-22.04',
    network: { name: 'range' },
  });
  assert.equal(foreign.status, 400, JSON.stringify(foreign.body));
  assert.deepEqual(fieldsOf(foreign), ['network.name']);
  const outside = await as(blue, 'POST', '/api/v1/vms', {
    name: 'blue-out',
    os: 'ubuntu-22.04',
    network: { name: 'range', ip: '10.99.0.5/24' },
  });
  assert.equal(outside.status, 400, JSON.stringify(outside.body));
  assert.deepEqual(fieldsOf(outside), ['network.ip']);
  const raw = await as(blue, 'POST', '/api/v1/vms', { name: 'blue-raw', os: 'ubuntu-22.04', network: { vlan: 100 } });
  assert.equal(raw.status, 400, 'a raw VLAN is still refused');

  const made = await as(blue, 'POST', '/api/v1/vms', {
    name: 'blue-box',
    os: 'ubuntu-22.04',
    network: { name: 'range', ip: '10.30.0.10/24' },
  });
  assert.equal(made.status, 202, JSON.stringify(made.body));
  vmId = String(made.body.id);
  const vm = await settledVm(vmId, ['ready', 'failed'], 180_000);
  assert.equal(vm.status, 'ready', JSON.stringify(vm));
  const config = (await root.vms.config(Number(vm.vmid), String(vm.node))).raw;
  assert.match(String(config.net0), new RegExp(`^virtio=[0-9A-F:]+,bridge=${network.bridge}$`));
  assert.equal(config.ipconfig0, 'ip=10.30.0.10/24');
  assert.match(String(config.net1), /^virtio=[0-9A-F:]+,bridge=vmbr0$/, 'the management NIC follows');
  assert.equal(config.ipconfig1, 'ip=dhcp');
});

test('a network in use cannot be deleted; once its VM is gone it is, with its VNet and lease', async () => {
  assert.equal((await as(blue, 'DELETE', `/api/v1/networks/${network.id}`)).status, 403, 'admins delete networks');
  const busy = await admin('DELETE', `/api/v1/networks/${network.id}`);
  assert.equal(busy.status, 409, JSON.stringify(busy.body));
  assert.match(String((busy.body.error as { message: string }).message), /used by 1 VM/);

  assert.equal((await as(blue, 'DELETE', `/api/v1/vms/${vmId}`)).status, 202);
  await settledVm(vmId, ['destroyed'], 120_000);
  const deleted = await admin('DELETE', `/api/v1/networks/${network.id}`);
  assert.equal(deleted.status, 202, JSON.stringify(deleted.body));
  await waitFor('the network gone', async () => (await admin('GET', `/api/v1/networks/${network.id}`)).status === 404, {
    timeoutMs: 60_000,
  });
  assert.ok(!(await appliedVnets()).some((row) => row.vnet === network.bridge), 'its VNet is deleted and applied');
  assert.ok(!(await listNetworkLeases(db)).some((row) => row.owner === `network:${network.id}`), 'its tag released');
});
