import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Simulator } from '../../sim';
import { detectGuestOs, osNamedIn } from './os-profiles';

test('OS names are recognised in template names, tags and image file names', () => {
  assert.equal(osNamedIn('ubuntu-2204-tmpl'), 'ubuntu-22.04');
  assert.equal(osNamedIn('glassdome;ubuntu-24.04'), 'ubuntu-24.04');
  assert.equal(osNamedIn('/var/lib/vz/template/noble-server-cloudimg-amd64.img'), 'ubuntu-24.04');
  assert.equal(osNamedIn('debian-12-genericcloud-amd64.qcow2'), 'debian-12');
  assert.equal(osNamedIn('kali-attacker'), 'kali');
});

test('digits inside a UUID never name an OS', () => {
  assert.equal(osNamedIn('glassdome vm 3f2404a1-2204-4d12-deb1-224042204abc'), undefined);
});

test("a VM's OS is its own name's, else the template's its disk is a linked clone of", () => {
  const sim = new Simulator({ timeScale: 0.01 });
  try {
    const volumes = sim.state.storages['pve01/local-lvm']!.volumes;
    sim.state.vms[9100] = {
      vmid: 9100,
      node: 'pve01',
      status: 'stopped',
      snapshots: {},
      config: { name: 'debian-12-tmpl', template: '1', scsi0: 'local-lvm:base-9100-disk-0' },
    };
    volumes['base-9100-disk-0'] = { vmid: 9100, sizeBytes: 2 * 1024 ** 3 };
    const clone = (vmid: number, name: string, baseOf?: string) => {
      sim.state.vms[vmid] = {
        vmid,
        node: 'pve01',
        status: 'stopped',
        snapshots: {},
        config: { name, scsi0: `local-lvm:vm-${vmid}-disk-0` },
      };
      volumes[`vm-${vmid}-disk-0`] = { vmid, sizeBytes: 2 * 1024 ** 3, ...(baseOf ? { baseOf } : {}) };
    };
    clone(200, 'web-1', 'base-9100-disk-0');
    clone(201, 'kali-1', 'base-9100-disk-0');
    clone(202, 'web-2');
    assert.equal(detectGuestOs(sim, 200).id, 'debian-12');
    assert.equal(detectGuestOs(sim, 201).id, 'kali');
    // A full clone has no base volume: the default image.
    assert.equal(detectGuestOs(sim, 202).id, 'ubuntu-22.04');
  } finally {
    sim.stop();
  }
});
