import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseSpec } from '../test-fixtures';
import type { SpecIssue } from './issues';
import { type ParseLabSpecOptions, parseLabSpec } from './parse';

function issuesOf(input: unknown, options?: ParseLabSpecOptions): SpecIssue[] {
  const result = parseLabSpec(input, options);
  assert.equal(result.ok, false, 'expected the spec to be rejected');
  return result.ok ? [] : result.issues;
}

/** Asserts exactly one issue, at `path`, whose message matches `message`. */
function assertOnlyIssue(input: unknown, path: (string | number)[], message: RegExp, options?: ParseLabSpecOptions) {
  const issues = issuesOf(input, options);
  assert.equal(issues.length, 1, `expected one issue, got ${JSON.stringify(issues)}`);
  assert.deepEqual(issues[0]?.path, path);
  assert.match(issues[0]!.message, message);
}

function withVm(index: number, changes: Record<string, unknown>) {
  const spec = baseSpec();
  spec.vms[index] = { ...spec.vms[index], ...changes };
  return spec;
}

test('unknown keys are rejected at their own path, at every level', () => {
  const spec = { ...baseSpec(), colour: 'blue' };
  spec.vms[1] = { ...spec.vms[1], cloudInit: { user: 'ops', password: 'hunter2' } };
  const issues = issuesOf(spec);
  assert.deepEqual(
    issues.map((issue) => issue.path),
    [['vms', 1, 'cloudInit', 'password'], ['colour']],
  );
  assert.ok(issues.every((issue) => issue.message === 'unknown key'));
  assert.ok(!JSON.stringify(issues).includes('hunter2'), 'values are never echoed');
});

test('impossible sizes are rejected with their paths', () => {
  assertOnlyIssue(withVm(0, { cpus: 0 }), ['vms', 0, 'cpus'], /at least 1/);
  assertOnlyIssue(withVm(0, { cpus: 65 }), ['vms', 0, 'cpus'], /at most 64/);
  assertOnlyIssue(withVm(1, { cpus: 1.5 }), ['vms', 1, 'cpus'], /whole number/);
  assertOnlyIssue(withVm(0, { memoryMiB: 128 }), ['vms', 0, 'memoryMiB'], /at least 256/);
  assertOnlyIssue(withVm(0, { memoryMiB: 262145 }), ['vms', 0, 'memoryMiB'], /at most 262144/);
  assertOnlyIssue(withVm(0, { diskGiB: 5000 }), ['vms', 0, 'diskGiB'], /at most 4096/);
  assertOnlyIssue(withVm(0, { count: 0 }), ['vms', 0, 'count'], /./);
  assertOnlyIssue({ ...baseSpec(), copies: 101 }, ['copies'], /./);
});

test('sizes below what the OS needs are impossible too', () => {
  assertOnlyIssue(withVm(0, { os: 'kali', diskGiB: 10 }), ['vms', 0, 'diskGiB'], /cannot shrink/);
  assertOnlyIssue(withVm(1, { os: 'kali', memoryMiB: 1024 }), ['vms', 1, 'memoryMiB'], /at least 2048 MiB/);
});

test('duplicate names: networks, VMs, and VM names that count expansion produces', () => {
  const networks = baseSpec();
  networks.networks.push({ name: 'lan', cidr: '10.10.0.0/24' });
  assertOnlyIssue(networks, ['networks', 1, 'name'], /duplicate name: networks\[0\]/);
  assertOnlyIssue(withVm(1, { name: 'a' }), ['vms', 1, 'name'], /duplicate name: vms\[0\]/);
  const expanded = withVm(0, { name: 'web', count: 2 });
  expanded.vms[1] = { ...expanded.vms[1], name: 'web-2' };
  assertOnlyIssue(expanded, ['vms', 1, 'name'], /duplicate name: vms\[0\]/);
  const longName = withVm(0, { name: 'x'.repeat(62), count: 10 });
  assertOnlyIssue(longName, ['vms', 0, 'name'], /reach 65 characters/);
});

test('names must be DNS- and Proxmox-safe', () => {
  for (const bad of ['Web', 'web_1', '-web', 'web-', '', 'a'.repeat(64), 'web.lab']) {
    assertOnlyIssue(withVm(0, { name: bad }), ['vms', 0, 'name'], /./);
  }
});

test('networks referenced but not declared, and attached twice', () => {
  assertOnlyIssue(withVm(0, { networks: ['lan', 'dmz'] }), ['vms', 0, 'networks', 1], /"dmz" is not declared/);
  assertOnlyIssue(
    withVm(0, { networks: [{ name: 'dmz', ip: '10.10.0.5' }] }),
    ['vms', 0, 'networks', 0, 'name'],
    /not declared/,
  );
  assertOnlyIssue(withVm(0, { networks: ['lan', 'lan'] }), ['vms', 0, 'networks', 1], /twice/);
  assertOnlyIssue(withVm(0, { networks: [] }), ['vms', 0, 'networks'], /at least one network/);
});

test('static addresses: inside the CIDR, not reserved, unique on their network, not shared by count', () => {
  const at = ['vms', 0, 'networks', 0, 'ip'];
  assertOnlyIssue(withVm(0, { networks: [{ name: 'lan', ip: '10.11.0.5' }] }), at, /outside lan \(10\.10\.0\.0\/24\)/);
  assertOnlyIssue(withVm(0, { networks: [{ name: 'lan', ip: '10.10.0.0' }] }), at, /network or broadcast/);
  assertOnlyIssue(withVm(0, { networks: [{ name: 'lan', ip: '10.10.0.255' }] }), at, /network or broadcast/);
  assertOnlyIssue(withVm(0, { networks: [{ name: 'lan', ip: '10.10.0.1' }] }), at, /reserved for lan's router/);
  assertOnlyIssue(withVm(0, { networks: [{ name: 'lan', ip: '10.10.0.256' }] }), at, /IPv4 address/);
  const clash = withVm(0, { networks: [{ name: 'lan', ip: '10.10.0.7' }] });
  clash.vms[1] = { ...clash.vms[1], networks: [{ name: 'lan', ip: '10.10.0.7' }] };
  assertOnlyIssue(clash, ['vms', 1, 'networks', 0, 'ip'], /already given to vms\[0\] on lan/);
  assertOnlyIssue(withVm(0, { count: 2, networks: [{ name: 'lan', ip: '10.10.0.9' }] }), at, /cannot be shared/);
});

test('network CIDRs: well-formed, network address, sane prefix, no overlap, room for their VMs', () => {
  const cidr = (value: string) => ({ ...baseSpec(), networks: [{ name: 'lan', cidr: value }] });
  assertOnlyIssue(cidr('10.10.0.0'), ['networks', 0, 'cidr'], /IPv4 CIDR/);
  assertOnlyIssue(cidr('10.10.0.5/24'), ['networks', 0, 'cidr'], /host bits/);
  assertOnlyIssue(cidr('10.0.0.0/4'), ['networks', 0, 'cidr'], /prefix/);
  assertOnlyIssue(cidr('10.0.0.0/30'), ['networks', 0, 'cidr'], /prefix/);
  const overlapping = baseSpec();
  overlapping.networks.push({ name: 'dmz', cidr: '10.0.0.0/8' });
  assertOnlyIssue(overlapping, ['networks', 1, 'cidr'], /overlaps networks\[0\] \(10\.10\.0\.0\/24\)/);
  const crowded = withVm(0, { count: 5 });
  crowded.networks = [{ name: 'lan', cidr: '10.10.0.0/29' }];
  assertOnlyIssue(crowded, ['networks', 0, 'cidr'], /addresses for 5 VMs but 6 attach/);
});

test('dependsOn: unknown names at their index, cycles named in full', () => {
  assertOnlyIssue(withVm(0, { dependsOn: ['b', 'ghost'] }), ['vms', 0, 'dependsOn', 1], /no VM named "ghost"/);
  assertOnlyIssue(withVm(0, { dependsOn: ['a'] }), ['vms', 0, 'dependsOn'], /^dependsOn cycle: a → a$/);
  const three = baseSpec();
  three.vms = [
    { name: 'a', os: 'debian-12', networks: ['lan'], dependsOn: ['b'] },
    { name: 'b', os: 'debian-12', networks: ['lan'], dependsOn: ['c'] },
    { name: 'c', os: 'debian-12', networks: ['lan'], dependsOn: ['a'] },
    { name: 'd', os: 'debian-12', networks: ['lan'], dependsOn: ['e'] },
    { name: 'e', os: 'debian-12', networks: ['lan'], dependsOn: ['d'] },
  ];
  const issues = issuesOf(three);
  assert.deepEqual(issues, [
    { path: ['vms', 0, 'dependsOn'], message: 'dependsOn cycle: a → b → c → a' },
    { path: ['vms', 3, 'dependsOn'], message: 'dependsOn cycle: d → e → d' },
  ]);
});

test('a VM needs an os or a template, and a known login user', () => {
  const spec = withVm(0, {});
  delete spec.vms[0]!.os;
  const issues = issuesOf(spec);
  assert.deepEqual(
    issues.map((issue) => issue.path),
    [
      ['vms', 0],
      ['vms', 0, 'cloudInit', 'user'],
    ],
  );
  assertOnlyIssue(withVm(0, { os: undefined, template: 9000 }), ['vms', 0, 'cloudInit', 'user'], /required/);
  assertOnlyIssue(withVm(0, { template: 12 }), ['vms', 0, 'template'], /VMID/);
  assertOnlyIssue(withVm(0, { os: 'windows-11' }), ['vms', 0, 'os'], /./);
});

test('quotas: VMs, vCPUs, memory and copies are counted over all copies; ttl has a maximum', () => {
  const spec = { ...withVm(0, { count: 4 }), copies: 5 };
  assertOnlyIssue(spec, ['vms'], /needs 25 VMs over 5 copies, more than the quota of 20/, { quotas: { maxVms: 20 } });
  assertOnlyIssue(spec, ['vms'], /25 vCPUs/, { quotas: { maxCpus: 24 } });
  assertOnlyIssue(spec, ['vms'], /25600 MiB of memory/, { quotas: { maxMemoryMiB: 25000 } });
  assertOnlyIssue(spec, ['copies'], /quota of 4 copies/, { quotas: { maxCopies: 4 } });
  assertOnlyIssue({ ...baseSpec(), ttl: '3d' }, ['ttl'], /longest allowed ttl, 2d/, {
    quotas: { maxTtlSeconds: 2 * 86400 },
  });
  assertOnlyIssue({ ...baseSpec(), ttl: '8 hours' }, ['ttl'], /"30m", "8h", "2d"/);
  assert.ok(parseLabSpec(spec, { quotas: { maxVms: 25, maxCpus: undefined } }).ok);
});

test('provision steps and cloud-init pieces explain the closest mistake', () => {
  assertOnlyIssue(withVm(0, { provision: [{ run: '' }] }), ['vms', 0, 'provision', 0, 'run'], /empty/);
  assertOnlyIssue(withVm(0, { provision: [{ run: 'x'.repeat(4097) }] }), ['vms', 0, 'provision', 0, 'run'], /4096/);
  assertOnlyIssue(
    withVm(0, { provision: [{ file: { path: 'etc/motd', content: '' } }] }),
    ['vms', 0, 'provision', 0, 'file', 'path'],
    /absolute/,
  );
  assertOnlyIssue(
    withVm(0, { provision: [{ file: { path: '/etc/motd', content: 'é'.repeat(131073) } }] }),
    ['vms', 0, 'provision', 0, 'file', 'content'],
    /262144 bytes/,
  );
  assertOnlyIssue(
    withVm(0, { provision: [{ file: { path: '/etc/motd', content: '', mode: 644 } }] }),
    ['vms', 0, 'provision', 0, 'file', 'mode'],
    /./,
  );
  assertOnlyIssue(withVm(0, { provision: [{ shell: 'ls' }] }), ['vms', 0, 'provision', 0], /\{run: "command"\}/);
  assertOnlyIssue(withVm(0, { provision: [{ run: 'a', file: {} }] }), ['vms', 0, 'provision', 0, 'file'], /unknown/);
  assertOnlyIssue(
    withVm(0, { cloudInit: { sshKeys: ['ssh-ed25519 AAAA trainee'] } }),
    ['vms', 0, 'cloudInit', 'sshKeys', 0],
    /OpenSSH public key/,
  );
  assertOnlyIssue(withVm(0, { cloudInit: { user: 'Root User' } }), ['vms', 0, 'cloudInit', 'user'], /Linux user/);
  assertOnlyIssue(withVm(0, { networks: [42] }), ['vms', 0, 'networks', 0], /network name or \{name, ip\}/);
});

test('text that is not YAML or JSON is one issue at path []', () => {
  for (const [text, contentType] of [
    ['name: [unclosed', 'yaml'],
    ['name: a\nname: b\n', 'yaml'],
    ['a: *nowhere', 'yaml'],
    ['{"name": ', 'json'],
  ] as const) {
    const issues = issuesOf(text, { contentType });
    assert.equal(issues.length, 1, JSON.stringify(issues));
    assert.deepEqual(issues[0]?.path, []);
    assert.match(issues[0]!.message, contentType === 'json' ? /not valid JSON/ : /not valid YAML/);
  }
  assert.match(issuesOf('name: a\nname: b\n')[0]!.message, /line 2, column 1/);
  assertOnlyIssue('', [], /expected object/);
  assertOnlyIssue(42, [], /expected object/);
});

test('every problem in the shape is reported at once', () => {
  const spec = withVm(0, { cpus: 0, memoryMiB: 1 });
  spec.vms[1] = { ...spec.vms[1], diskGiB: -1 };
  assert.deepEqual(
    issuesOf({ ...spec, name: 'Bad Name' }).map((issue) => issue.path),
    [['name'], ['vms', 0, 'cpus'], ['vms', 0, 'memoryMiB'], ['vms', 1, 'diskGiB']],
  );
});
