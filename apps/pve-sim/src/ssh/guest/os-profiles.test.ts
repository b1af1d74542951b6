import assert from 'node:assert/strict';
import { test } from 'node:test';
import { osNamedIn } from './os-profiles';

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
