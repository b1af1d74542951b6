import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nicEssentials, nicLines, vmNicDigest } from './nics';

const applied = {
  net0: 'virtio=BC:24:11:00:00:01,bridge=gd1234,firewall=1',
  net1: 'virtio=BC:24:11:00:00:02,bridge=vmbr0,firewall=1',
  ipconfig0: 'ip=10.10.1.10/24',
  memory: 2048,
};

test('the NIC digest ignores key order, absent flags, letter case and what places nothing', () => {
  const digest = vmNicDigest(applied);
  assert.equal(
    vmNicDigest({
      memory: 4096,
      net1: 'firewall=1,bridge=vmbr0,virtio=bc:24:11:00:00:02,rate=10,queues=2',
      net0: 'virtio=BC:24:11:00:00:01,firewall=1,bridge=gd1234,link_down=0,mtu=1400',
      ipconfig0: 'ip=dhcp',
    }),
    digest,
  );
  assert.deepEqual(nicEssentials('model=virtio,macaddr=aa:bb:cc:dd:ee:ff,bridge=vmbr0,firewall=0'), {
    model: 'virtio',
    mac: 'AA:BB:CC:DD:EE:FF',
    bridge: 'vmbr0',
  });
  assert.deepEqual(nicLines(applied), { net0: applied.net0, net1: applied.net1 });
});

test('every change that moves a NIC or stops its filtering changes the digest', () => {
  const digest = vmNicDigest(applied);
  const changed = [
    { ...applied, net0: 'virtio=BC:24:11:00:00:01,bridge=gd1234' },
    { ...applied, net0: 'virtio=BC:24:11:00:00:01,bridge=gd9999,firewall=1' },
    { ...applied, net0: 'virtio=BC:24:11:00:00:01,bridge=gd1234,tag=7,firewall=1' },
    { ...applied, net0: 'virtio=BC:24:11:00:00:09,bridge=gd1234,firewall=1' },
    { ...applied, net0: 'e1000=BC:24:11:00:00:01,bridge=gd1234,firewall=1' },
    { ...applied, net1: 'virtio=BC:24:11:00:00:02,bridge=vmbr0,firewall=1,link_down=1' },
    { ...applied, net1: 'virtio=BC:24:11:00:00:02,bridge=vmbr0,firewall=1,trunks=10;20' },
    { ...applied, net2: 'virtio=BC:24:11:00:00:03,bridge=vmbr0' },
    { net0: applied.net0 },
    { ...applied, net0: applied.net1, net1: applied.net0 },
  ];
  const digests = changed.map((config) => vmNicDigest(config));
  for (const [index, other] of digests.entries()) assert.notEqual(other, digest, `change ${index}`);
  assert.equal(new Set(digests).size, digests.length, 'each change has a digest of its own');
  assert.equal(
    vmNicDigest({ ...applied, net0: 'virtio=BC:24:11:00:00:01,bridge=gd1234,firewall=0' }),
    digests[0],
    'firewall=0 is no firewall',
  );
});
