import assert from 'node:assert/strict';
import { test } from 'node:test';
import { glassdomeAcls, missingPrivileges, privilegesAt } from './privileges';

const placement = { node: 'pve01', storage: 'local-lvm', bridge: 'vmbr0' };

/** Everything the roles hold, granted where bootstrap grants it. */
function fullGrant(): Record<string, string[]> {
  return Object.fromEntries(glassdomeAcls(placement).map(({ path, privs }) => [path, [...privs]]));
}

test('a deeper ACL path replaces what its parent would pass down', () => {
  const granted = { '/': ['Sys.Audit'], '/vms': ['VM.Audit', 'VM.PowerMgmt'], '/vms/9000': ['VM.Clone'] };
  assert.deepEqual(privilegesAt(granted, '/vms/101'), ['VM.Audit', 'VM.PowerMgmt']);
  assert.deepEqual(privilegesAt(granted, '/vms/9000'), ['VM.Clone']);
  assert.deepEqual(privilegesAt(granted, '/vms/90000'), ['VM.Audit', 'VM.PowerMgmt'], 'a path prefix is not a parent');
  assert.deepEqual(privilegesAt(granted, '/storage/local-lvm'), ['Sys.Audit']);
  assert.deepEqual(privilegesAt({}, '/vms'), []);
});

test('what bootstrap grants is exactly enough; each missing privilege is named with its path', () => {
  assert.deepEqual(missingPrivileges(fullGrant(), placement), []);
  const granted = fullGrant();
  granted['/storage/local-lvm'] = ['Datastore.Audit'];
  delete granted['/sdn/zones/localnetwork/vmbr0'];
  assert.deepEqual(missingPrivileges(granted, placement), [
    'Datastore.AllocateSpace on /storage/local-lvm',
    'SDN.Audit on /sdn/zones/localnetwork/vmbr0',
    'SDN.Use on /sdn/zones/localnetwork/vmbr0',
  ]);
});

test('VM.Clone may be held template by template instead of on /vms', () => {
  const granted = fullGrant();
  granted['/vms'] = granted['/vms']!.filter((priv) => priv !== 'VM.Clone');
  assert.deepEqual(missingPrivileges(granted, placement), ['VM.Clone on /vms']);
  granted['/vms/9000'] = ['VM.Clone', 'VM.Audit'];
  assert.deepEqual(missingPrivileges(granted, placement), []);
});

test('the SDN grant of a whole zone covers the bridge beneath it', () => {
  const granted = fullGrant();
  delete granted['/sdn/zones/localnetwork/vmbr0'];
  granted['/sdn/zones/localnetwork'] = ['SDN.Audit', 'SDN.Use'];
  assert.deepEqual(missingPrivileges(granted, placement), []);
});
