/**
 * Named networks where there is no SDN (NETWORK_MODE=vlan): the network is a leased tag on the uplink
 * bridge, and a VM joining it carries that tag on its NIC itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiCaller, type IsolatedStack, simulatorRoot, startIsolatedStack, waitFor } from '@glassdome/testkit';

let isolated: IsolatedStack;
before(async () => {
  isolated = await startIsolatedStack(
    { installers: 1, env: { NETWORK_MODE: 'vlan', SSH_TIMEOUT_SECONDS: '20' } },
    {},
    'named_networks_vlan',
  );
});
after(() => isolated?.stop());

test("a VM on a named network in vlan mode has the network's tag on its NIC", async () => {
  const admin = apiCaller(isolated.stack.apiUrl, isolated.stack.adminKey);
  const made = await admin('POST', '/api/v1/networks', { name: 'flat', project: 'default' });
  assert.equal(made.status, 202, JSON.stringify(made.body));
  const network = await waitFor(
    'the network ready',
    async () => {
      const { body } = await admin('GET', `/api/v1/networks/${made.body.id}`);
      return body.status === 'ready' || body.status === 'failed' ? body : undefined;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(network.status, 'ready', JSON.stringify(network));
  assert.equal(network.bridge, 'vmbr0', 'no VNet: the uplink bridge');

  const vm = await admin('POST', '/api/v1/vms', { name: 'flatbox', os: 'ubuntu-22.04', network: { name: 'flat' } });
  assert.equal(vm.status, 202, JSON.stringify(vm.body));
  const ready = await waitFor(
    'the VM settled',
    async () => {
      const { body } = await admin('GET', `/api/v1/vms/${vm.body.id}`);
      return ['ready', 'failed'].includes(body.status) ? body : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  assert.equal(ready.status, 'ready', JSON.stringify(ready));
  const root = simulatorRoot(isolated.sim.info);
  try {
    const config = (await root.vms.config(Number(ready.vmid), String(ready.node))).raw;
    assert.match(String(config.net0), /^virtio=[0-9A-F:]+,bridge=vmbr0,tag=\d+$/);
    assert.equal(config.ipconfig0, 'ip=dhcp');
    assert.match(String(config.net1), /^virtio=[0-9A-F:]+,bridge=vmbr0$/, 'the management NIC, untagged');
  } finally {
    root.close();
  }
});
