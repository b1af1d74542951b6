import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DESIGN_EXAMPLE_YAML, ECDSA_KEY, ED25519_KEY, RSA_KEY } from '../test-fixtures';
import { OS_PROFILES } from './os-profiles';
import { parseLabSpec } from './parse';
import type { LabSpec } from './resolve';

function parsed(input: unknown, options?: Parameters<typeof parseLabSpec>[1]): LabSpec {
  const result = parseLabSpec(input, options);
  assert.ok(result.ok, `expected a valid spec, got ${JSON.stringify(!result.ok && result.issues)}`);
  return result.spec;
}

test('the design example parses, with defaults from the OS profiles', () => {
  const spec = parsed(DESIGN_EXAMPLE_YAML);
  assert.equal(spec.name, 'web-pentest-101');
  assert.equal(spec.ttlSeconds, 8 * 3600);
  assert.deepEqual(spec.networks, [{ name: 'lan', cidr: '10.10.0.0/24', egress: 'deny', intra: 'allow' }]);
  assert.deepEqual(spec.rules, []);
  const [target, attacker] = spec.vms;
  assert.deepEqual(target, {
    name: 'target',
    os: 'ubuntu-22.04',
    cpus: OS_PROFILES['ubuntu-22.04'].cpus,
    memoryMiB: OS_PROFILES['ubuntu-22.04'].memoryMiB,
    diskGiB: OS_PROFILES['ubuntu-22.04'].diskGiB,
    networks: [{ name: 'lan' }],
    cloudInit: { user: 'ubuntu', sshKeys: [], packages: [], runcmd: [] },
    provision: [{ run: 'apt-get install -y apache2' }],
    dependsOn: [],
  });
  assert.equal(attacker?.cpus, 2);
  assert.equal(attacker?.memoryMiB, 4096);
  assert.equal(attacker?.diskGiB, OS_PROFILES.kali.diskGiB);
  assert.deepEqual(attacker?.cloudInit, { user: 'trainee', sshKeys: [ED25519_KEY], packages: [], runcmd: [] });
  assert.deepEqual(attacker?.dependsOn, ['target']);
});

test('top-level defaults: ttl 8h, one copy, fail on failure, egress denied, open inside a network', () => {
  const spec = parsed({
    name: 'tiny',
    networks: [{ name: 'lan', cidr: '192.168.50.0/24' }],
    vms: [{ name: 'box', os: 'debian-12', networks: ['lan'] }],
  });
  assert.equal(spec.ttl, '8h');
  assert.equal(spec.copies, 1);
  assert.equal(spec.onFailure, 'fail');
  assert.equal(spec.networks[0]?.egress, 'deny');
  assert.equal(spec.networks[0]?.intra, 'allow');
  assert.equal(spec.networks[0]?.gateway, undefined);
  assert.equal(spec.vms[0]?.cloudInit.user, 'debian');
});

test('JSON text parses as JSON, and as YAML (a superset) when no content type is given', () => {
  const body = JSON.stringify({
    name: 'json-lab',
    ttl: '30m',
    networks: [{ name: 'lan', cidr: '10.0.0.0/16', egress: 'allow' }],
    vms: [{ name: 'box', os: 'ubuntu-24.04', networks: [{ name: 'lan', ip: '10.0.3.4' }] }],
  });
  const asJson = parsed(body, { contentType: 'json' });
  assert.deepEqual(parsed(body), asJson);
  assert.equal(asJson.ttlSeconds, 1800);
  assert.deepEqual(asJson.vms[0]?.networks, [{ name: 'lan', ip: '10.0.3.4' }]);
});

test('a VM cloned from a template by id or name, with an explicit login user', () => {
  const spec = parsed({
    name: 'custom',
    networks: [{ name: 'lan', cidr: '10.1.0.0/24' }],
    vms: [
      { name: 'by-id', template: 9000, cloudInit: { user: 'admin' }, networks: ['lan'] },
      { name: 'by-name', template: 'win-eval-tmpl', os: 'ubuntu-22.04', networks: ['lan'] },
    ],
  });
  assert.equal(spec.vms[0]?.template, 9000);
  assert.equal(spec.vms[0]?.cloudInit.user, 'admin');
  assert.equal(spec.vms[0]?.cpus, 1);
  assert.equal(spec.vms[1]?.template, 'win-eval-tmpl');
});

test('every OpenSSH key type the guests accept passes, provision steps keep their order', () => {
  const spec = parsed({
    name: 'keys',
    networks: [{ name: 'lan', cidr: '10.1.0.0/24' }],
    vms: [
      {
        name: 'box',
        os: 'ubuntu-22.04',
        networks: ['lan'],
        cloudInit: {
          sshKeys: [ED25519_KEY, RSA_KEY, ECDSA_KEY],
          packages: ['nginx', 'curl=7.81.0-1'],
          runcmd: ['true'],
        },
        provision: [
          { file: { path: '/etc/motd', content: 'hello\n', mode: '0644' } },
          { run: 'systemctl restart nginx' },
          { file: { path: '/opt/run.sh', content: '#!/bin/sh\n' } },
        ],
      },
    ],
  });
  const box = spec.vms[0]!;
  assert.equal(box.cloudInit.sshKeys.length, 3);
  assert.deepEqual(
    box.provision.map((step) => ('run' in step ? 'run' : 'file')),
    ['file', 'run', 'file'],
  );
});

test('count keeps its entry and dependsOn entries are deduplicated', () => {
  const spec = parsed({
    name: 'class',
    copies: 3,
    networks: [{ name: 'lan', cidr: '10.2.0.0/24' }],
    vms: [
      { name: 'server', os: 'ubuntu-22.04', networks: ['lan'] },
      { name: 'client', os: 'ubuntu-22.04', count: 5, networks: ['lan'], dependsOn: ['server', 'server'] },
    ],
  });
  assert.equal(spec.copies, 3);
  assert.equal(spec.vms[1]?.count, 5);
  assert.deepEqual(spec.vms[1]?.dependsOn, ['server']);
});

test('YAML anchors within the alias limit are fine', () => {
  const spec = parsed(`
name: anchors
networks: [{name: lan, cidr: 10.3.0.0/24}]
vms:
  - &box {name: one, os: debian-12, networks: [lan]}
  - {<<: *box, name: two}
`);
  assert.deepEqual(
    spec.vms.map((vm) => vm.name),
    ['one', 'two'],
  );
});

test('a resolved spec, given back without ttlSeconds, parses to itself', () => {
  const spec = parsed(DESIGN_EXAMPLE_YAML);
  const { ttlSeconds: _ttlSeconds, ...input } = spec;
  assert.deepEqual(parsed(input), spec);
});
