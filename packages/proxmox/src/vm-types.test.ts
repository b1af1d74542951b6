import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNic, toVmConfig, toVmSummary } from './vm-types';

test('a real PVE 8 config: string memory, agent property string, NIC with MAC, encoded ssh keys', () => {
  const config = toVmConfig({
    memory: '4096',
    net0: 'virtio=BC:24:11:9F:E0:D5,bridge=vmbr0,tag=20,firewall=1',
    scsi0: 'vmdata-1:vm-111-disk-0,size=2252M',
    agent: 'enabled=1',
    cores: 2,
    name: 'srv-web-25c201',
    ipconfig0: 'ip=dhcp',
    sshkeys: 'ssh-ed25519%20AAAA%20me%40host%0A',
    digest: 'c752912ca294814e0b7c18e223b7b0e73971d0dd',
  });
  assert.equal(config.memoryMiB, 4096);
  assert.equal(config.cores, 2);
  assert.equal(config.agentEnabled, true);
  assert.deepEqual(config.nics.net0, {
    model: 'virtio',
    macaddr: 'BC:24:11:9F:E0:D5',
    bridge: 'vmbr0',
    tag: 20,
    firewall: true,
  });
  assert.deepEqual(config.sshKeys, ['ssh-ed25519 AAAA me@host']);
  assert.deepEqual(config.ipconfigs, { ipconfig0: 'ip=dhcp' });
  assert.equal(config.template, false);
  assert.equal(config.raw.scsi0, 'vmdata-1:vm-111-disk-0,size=2252M');
});

test('older forms: integer memory, bare agent flag, agent disabled, template as 1', () => {
  assert.equal(toVmConfig({ memory: 2048 }).memoryMiB, 2048);
  assert.equal(toVmConfig({ memory: 'current=1024' }).memoryMiB, 1024);
  assert.equal(toVmConfig({ agent: '1' }).agentEnabled, true);
  assert.equal(toVmConfig({ agent: '0,fstrim_cloned_disks=1' }).agentEnabled, false);
  assert.equal(toVmConfig({}).agentEnabled, false);
  assert.equal(toVmConfig({ template: 1 }).template, true);
});

test('NICs written with model= and macaddr= keys parse the same', () => {
  assert.deepEqual(parseNic('model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr1'), {
    model: 'e1000',
    macaddr: 'BC:24:11:00:00:01',
    bridge: 'vmbr1',
    tag: undefined,
    firewall: false,
  });
});

test('VM list rows: omitted template flag is false, name defaults like PVE', () => {
  const row = toVmSummary({ vmid: 101, status: 'stopped', maxmem: 2147483648 }, 'pve01');
  assert.equal(row.template, false);
  assert.equal(row.name, 'VM 101');
  assert.equal(row.node, 'pve01');
  assert.equal(toVmSummary({ vmid: '9000', template: 1, tags: 'a;b' }, 'pve01').vmid, 9000);
  assert.deepEqual(toVmSummary({ vmid: 9000, template: 1, tags: 'a;b' }, 'pve01').tags, ['a', 'b']);
});
