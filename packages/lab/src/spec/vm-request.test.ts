import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ED25519_KEY } from '../test-fixtures';
import { OS_PROFILES } from './os-profiles';
import { parseVmRequest } from './vm-request';

test('a minimal request gets the OS profile defaults and DHCP on the default bridge', () => {
  const result = parseVmRequest({ name: 'web-01', os: 'ubuntu-24.04' });
  assert.ok(result.ok);
  assert.deepEqual(result.vm, {
    name: 'web-01',
    os: 'ubuntu-24.04',
    cpus: OS_PROFILES['ubuntu-24.04'].cpus,
    memoryMiB: OS_PROFILES['ubuntu-24.04'].memoryMiB,
    diskGiB: OS_PROFILES['ubuntu-24.04'].diskGiB,
    network: { ip: 'dhcp' },
    cloudInit: { user: 'ubuntu', sshKeys: [], packages: [], runcmd: [] },
    provision: [],
  });
});

test('a full request keeps what it says', () => {
  const result = parseVmRequest({
    name: 'kali-1',
    os: 'kali',
    template: 9100,
    cpus: 4,
    memoryMiB: 8192,
    diskGiB: 60,
    network: { ip: '192.168.42.10/24', gateway: '192.168.42.1' },
    cloudInit: { user: 'trainee', sshKeys: [ED25519_KEY], packages: ['nmap'], runcmd: ['touch /ok'] },
    provision: [{ run: 'nmap --version' }],
  });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  assert.equal(result.vm.template, 9100);
  assert.deepEqual(result.vm.network, { ip: '192.168.42.10/24', gateway: '192.168.42.1' });
});

test('the same rules as lab VMs, with paths', () => {
  const cases: [unknown, (string | number)[]][] = [
    [{ name: 'Web_01', os: 'ubuntu-22.04' }, ['name']],
    [{ name: 'web', os: 'ubuntu-22.04', cpus: 65 }, ['cpus']],
    [{ name: 'web', os: 'kali', diskGiB: 5 }, ['diskGiB']],
    [{ name: 'web', os: 'ubuntu-22.04', provision: [{ run: 1 }] }, ['provision', 0, 'run']],
    [{ name: 'web', os: 'ubuntu-22.04', cloudInit: { sshKeys: ['nope'] } }, ['cloudInit', 'sshKeys', 0]],
    [{ name: 'web', os: 'ubuntu-22.04', network: { vlan: 100 } }, ['network', 'vlan']],
    [{ name: 'web', os: 'ubuntu-22.04', network: { bridge: 'gdv2s4' } }, ['network', 'bridge']],
    [{ name: 'web', os: 'ubuntu-22.04', network: { gateway: '10.0.0.1' } }, ['network', 'gateway']],
    [{ name: 'web', os: 'ubuntu-22.04', network: { ip: '10.0.0.5/24', gateway: '10.0.1.1' } }, ['network', 'gateway']],
    [{ name: 'web', os: 'ubuntu-22.04', network: { ip: '10.0.0.5' } }, ['network', 'ip']],
    [{ name: 'web', os: 'ubuntu-22.04', extra: true }, ['extra']],
    [{ name: 'web' }, ['os']],
  ];
  for (const [input, path] of cases) {
    const result = parseVmRequest(input);
    assert.equal(result.ok, false, JSON.stringify(input));
    assert.deepEqual(!result.ok && result.issues.map((issue) => issue.path), [path], JSON.stringify(input));
  }
});
