import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSshKeys, encodeParams, encodeSshKeys } from './encoding';
import { configParams } from './vms';

test('parameters: booleans as 1/0, lists comma-joined, undefined left out, spaces as %20', () => {
  assert.equal(
    encodeParams({ full: true, start: false, roles: ['PVEVMUser', 'X'], pool: undefined, description: 'a b+c' }),
    'full=1&start=0&roles=PVEVMUser%2CX&description=a%20b%2Bc',
  );
  assert.equal(encodeParams(undefined), '');
});

test('sshkeys are percent-encoded once by us and again by the form layer (%2520 on the wire)', () => {
  const keys = ['ssh-ed25519 AAAAC3Nz me@host', 'ssh-rsa AAAAB3Nza+/= other'];
  const value = encodeSshKeys(keys);
  assert.match(value, /^[-%a-zA-Z0-9_.!~*'()]*$/, 'PVE urlencoded format');
  assert.equal(value, 'ssh-ed25519%20AAAAC3Nz%20me%40host%0Assh-rsa%20AAAAB3Nza%2B%2F%3D%20other');
  const wire = encodeParams(configParams({ sshKeys: keys }));
  assert.ok(wire.startsWith('sshkeys=ssh-ed25519%2520AAAAC3Nz%2520me%2540host%250A'), wire);
  assert.deepEqual(decodeSshKeys(value), keys);
});

test('config updates: tags ;-joined, deletions comma-joined, other keys as given', () => {
  assert.deepEqual(configParams({ tags: ['lab', 'web'], delete: ['ide2', 'net1'], cores: 2 }), {
    cores: 2,
    tags: 'lab;web',
    delete: 'ide2,net1',
  });
});
