import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LooseSpec } from '../test-fixtures';
import type { SpecIssue } from './issues';
import { parseLabSpec } from './parse';
import { formatPortSpec, parseEgressEntry, parsePortSpec } from './policy';

function issuesOf(input: unknown): SpecIssue[] {
  const result = parseLabSpec(input);
  assert.equal(result.ok, false, 'expected the spec to be rejected');
  return result.ok ? [] : result.issues;
}

function assertAccepted(input: unknown) {
  const result = parseLabSpec(input);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
}

function assertOnlyIssue(input: unknown, path: (string | number)[], message: RegExp) {
  const issues = issuesOf(input);
  assert.equal(issues.length, 1, `expected one issue, got ${JSON.stringify(issues)}`);
  assert.deepEqual(issues[0]?.path, path);
  assert.match(issues[0]!.message, message);
}

/** Two networks, a dual-homed web server, a db and an attacker: the issue's example. */
function twoNetworks(): LooseSpec {
  return {
    name: 'dmz-lab',
    networks: [
      { name: 'dmz', cidr: '10.10.1.0/24', egress: 'deny' },
      { name: 'internal', cidr: '10.10.2.0/24' },
    ],
    rules: [
      { from: 'dmz', to: 'web', ports: ['tcp/80'] },
      { from: 'web', to: 'db', ports: ['tcp/5432'] },
    ],
    vms: [
      {
        name: 'web',
        os: 'ubuntu-22.04',
        networks: [
          { name: 'dmz', ip: '10.10.1.10' },
          { name: 'internal', ip: '10.10.2.10' },
        ],
      },
      { name: 'db', os: 'debian-12', networks: ['internal'] },
      { name: 'attacker', os: 'kali', networks: ['dmz'] },
    ],
  };
}

function withRule(spec: LooseSpec, rule: Record<string, unknown>): LooseSpec {
  return { ...spec, rules: [...((spec.rules as unknown[]) ?? []), rule] };
}

test('port entries: tcp/udp ports and ranges, or icmp', () => {
  assert.deepEqual(parsePortSpec('tcp/80'), { ok: true, value: { proto: 'tcp', from: 80, to: 80 } });
  assert.deepEqual(parsePortSpec('udp/53'), { ok: true, value: { proto: 'udp', from: 53, to: 53 } });
  assert.deepEqual(parsePortSpec('tcp/8000-8100'), { ok: true, value: { proto: 'tcp', from: 8000, to: 8100 } });
  assert.deepEqual(parsePortSpec('icmp'), { ok: true, value: { proto: 'icmp' } });
  for (const text of ['tcp/80', 'udp/1-65535', 'icmp']) {
    const parsed = parsePortSpec(text);
    assert.ok(parsed.ok);
    assert.equal(formatPortSpec(parsed.value), text);
  }
  const failures: [string, RegExp][] = [
    ['tcp/90-80', /not a range/],
    ['tcp/0', /outside 1–65535/],
    ['udp/65536', /outside 1–65535/],
    ['tcp/080', /leading zeros/],
    ['80', /must be tcp\/PORT/],
    ['sctp/80', /must be tcp\/PORT/],
    ['icmp/8', /must be tcp\/PORT/],
    ['tcp/http', /must be tcp\/PORT/],
  ];
  for (const [text, message] of failures) {
    const parsed = parsePortSpec(text);
    assert.ok(!parsed.ok, text);
    assert.match(parsed.message, message, text);
  }
});

test('egress entries: protocol, address or network, port or range', () => {
  assert.deepEqual(parseEgressEntry('203.0.113.5:443'), {
    ok: true,
    value: { proto: 'tcp', network: { base: 0xcb007105, prefix: 32 }, ports: { from: 443, to: 443 } },
  });
  assert.deepEqual(parseEgressEntry('udp/198.51.100.0/24:53'), {
    ok: true,
    value: { proto: 'udp', network: { base: 0xc6336400, prefix: 24 }, ports: { from: 53, to: 53 } },
  });
  assert.deepEqual(parseEgressEntry('0.0.0.0/0:8000-8100'), {
    ok: true,
    value: { proto: 'tcp', network: { base: 0, prefix: 0 }, ports: { from: 8000, to: 8100 } },
  });
  assert.deepEqual(parseEgressEntry('icmp/203.0.113.0/24'), {
    ok: true,
    value: { proto: 'icmp', network: { base: 0xcb007100, prefix: 24 } },
  });
  const failures: [string, RegExp][] = [
    ['203.0.113.5', /tcp needs a port/],
    ['icmp/203.0.113.5:8', /icmp has no ports/],
    ['203.0.113.5/24:80', /host bits/],
    ['203.0.113.256:80', /not an IPv4 address/],
    ['203.0.113.0/33:80', /not an IPv4 address/],
    ['example.com:443', /must be \[tcp\/\|udp\/\]ADDRESS/],
    ['203.0.113.5:443-80', /not a range/],
  ];
  for (const [text, message] of failures) {
    const parsed = parseEgressEntry(text);
    assert.ok(!parsed.ok, text);
    assert.match(parsed.message, message, text);
  }
});

test('a spec with networks, rules, a gateway, intra and egress lists parses and resolves', () => {
  const spec = twoNetworks();
  spec.networks[1] = {
    ...spec.networks[1],
    intra: 'deny',
    egress: ['203.0.113.5:443', '203.0.113.5:443', 'icmp/0.0.0.0/0'],
  };
  const result = parseLabSpec(spec);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  assert.deepEqual(result.spec.networks, [
    { name: 'dmz', cidr: '10.10.1.0/24', egress: 'deny', intra: 'allow' },
    { name: 'internal', cidr: '10.10.2.0/24', egress: ['203.0.113.5:443', 'icmp/0.0.0.0/0'], intra: 'deny' },
  ]);
  assert.deepEqual(result.spec.rules, [
    { from: 'dmz', to: 'web', ports: ['tcp/80'] },
    { from: 'web', to: 'db', ports: ['tcp/5432'] },
  ]);
  const { ttlSeconds: _ttlSeconds, ...again } = result.spec;
  assert.deepEqual(parseLabSpec(again), result, 'a resolved spec parses to itself');
});

test('rules must name a network or a VM entry of the lab, unambiguously', () => {
  assertOnlyIssue(
    withRule(twoNetworks(), { from: 'ghost', to: 'web', ports: ['tcp/1'] }),
    ['rules', 2, 'from'],
    /no network or VM named "ghost"/,
  );
  assertOnlyIssue(withRule(twoNetworks(), { from: 'web', to: 'dmz2', ports: ['tcp/1'] }), ['rules', 2, 'to'], /"dmz2"/);
  const counted = twoNetworks();
  counted.vms[1] = { ...counted.vms[1], count: 2 };
  assertOnlyIssue(
    withRule(counted, { from: 'web', to: 'db-2', ports: ['tcp/1'] }),
    ['rules', 2, 'to'],
    /rules name VM entries, and db-2 is an instance of db/,
  );
  const clash = twoNetworks();
  clash.vms[1] = { ...clash.vms[1], name: 'internal' };
  clash.rules = [{ from: 'web', to: 'internal', ports: ['tcp/5432'] }];
  assertOnlyIssue(clash, ['rules', 0, 'to'], /names both a network and a VM/);
});

test('rules from a thing to itself are refused where they mean nothing', () => {
  assertOnlyIssue(
    withRule(twoNetworks(), { from: 'web', to: 'web', ports: ['tcp/80'] }),
    ['rules', 2, 'to'],
    /traffic to itself/,
  );
  assertOnlyIssue(
    withRule(twoNetworks(), { from: 'dmz', to: 'dmz', ports: ['tcp/80'] }),
    ['rules', 2, 'to'],
    /inside dmz is already allowed: set intra: deny/,
  );
  const denied = twoNetworks();
  denied.networks[0] = { ...denied.networks[0], intra: 'deny' };
  assert.ok(parseLabSpec(withRule(denied, { from: 'dmz', to: 'dmz', ports: ['tcp/80'] })).ok);
  const counted = twoNetworks();
  counted.vms[2] = { ...counted.vms[2], count: 2 };
  assert.ok(parseLabSpec(withRule(counted, { from: 'attacker', to: 'attacker', ports: ['tcp/80'] })).ok);
});

test('bad ports and ranges are named at their index', () => {
  const bad = (ports: unknown) => withRule(twoNetworks(), { from: 'attacker', to: 'web', ports });
  assertOnlyIssue(bad(['tcp/80', 'tcp/90-80']), ['rules', 2, 'ports', 1], /90-80 is not a range/);
  assertOnlyIssue(bad(['tcp/70000']), ['rules', 2, 'ports', 0], /outside 1–65535/);
  assertOnlyIssue(bad(['http']), ['rules', 2, 'ports', 0], /must be tcp\/PORT/);
  assertOnlyIssue(bad([]), ['rules', 2, 'ports'], /at least one port/);
  assertOnlyIssue(bad([80]), ['rules', 2, 'ports', 0], /./);
  assertOnlyIssue(
    withRule(twoNetworks(), { from: 'attacker', to: 'web', ports: ['tcp/80'], allow: true }),
    ['rules', 2, 'allow'],
    /unknown key/,
  );
});

test('a rule that no traffic could follow is refused', () => {
  // attacker (dmz) and db (internal) share no network, and nothing routes between them.
  assertOnlyIssue(
    withRule(twoNetworks(), { from: 'attacker', to: 'db', ports: ['tcp/5432'] }),
    ['rules', 2],
    /nothing in attacker can reach db/,
  );
  // From the dmz network, web's traffic to db carries its internal address, not a dmz one.
  assertOnlyIssue(
    withRule(twoNetworks(), { from: 'dmz', to: 'db', ports: ['tcp/5432'] }),
    ['rules', 2],
    /share no network/,
  );
  // With web as both networks' router, the attacker can reach db through it.
  const routed = withRule(twoNetworks(), { from: 'attacker', to: 'db', ports: ['tcp/5432'] });
  routed.networks[0] = { ...routed.networks[0], gateway: '10.10.1.10' };
  routed.networks[1] = { ...routed.networks[1], gateway: '10.10.2.10' };
  assertAccepted(routed);
});

test('gateways: inside their network, usable, and held by a VM; statics and the router address', () => {
  const at = ['networks', 0, 'gateway'];
  const gateway = (value: unknown) => {
    const spec = twoNetworks();
    spec.networks[0] = { ...spec.networks[0], gateway: value };
    return spec;
  };
  assertOnlyIssue(gateway('10.10.2.1'), at, /outside dmz \(10\.10\.1\.0\/24\)/);
  assertOnlyIssue(gateway('10.10.1.255'), at, /network or broadcast/);
  assertOnlyIssue(gateway('10.10.1.300'), at, /IPv4 address/);
  assertOnlyIssue(gateway('10.10.1.1'), at, /no VM on dmz holds 10\.10\.1\.1/);
  assert.ok(parseLabSpec(gateway('10.10.1.10')).ok, 'web holds it: web is the router');
  // Without a declared gateway the first host stays free; declared elsewhere, it is an ordinary address.
  const first = twoNetworks();
  first.vms[2] = { ...first.vms[2], networks: [{ name: 'dmz', ip: '10.10.1.1' }] };
  assertOnlyIssue(first, ['vms', 2, 'networks', 0, 'ip'], /reserved for dmz's router .* declare it as dmz's gateway/);
  const elsewhere = gateway('10.10.1.10');
  elsewhere.vms[2] = { ...elsewhere.vms[2], networks: [{ name: 'dmz', ip: '10.10.1.1' }] };
  assert.ok(parseLabSpec(elsewhere).ok);
  const duplicate = twoNetworks();
  duplicate.vms[2] = { ...duplicate.vms[2], networks: [{ name: 'dmz', ip: '10.10.1.10' }] };
  assertOnlyIssue(duplicate, ['vms', 2, 'networks', 0, 'ip'], /already given to vms\[0\] on dmz/);
});

test('a network held by its router has room for one more VM', () => {
  const spec: LooseSpec = {
    name: 'tiny',
    networks: [{ name: 'lan', cidr: '10.0.0.0/29', gateway: '10.0.0.1' }],
    vms: [
      { name: 'router', os: 'debian-12', networks: [{ name: 'lan', ip: '10.0.0.1' }] },
      { name: 'box', os: 'debian-12', count: 5, networks: ['lan'] },
    ],
  };
  assertAccepted(spec);
  spec.vms[1] = { ...spec.vms[1], count: 6 };
  assertOnlyIssue(spec, ['networks', 0, 'cidr'], /addresses for 6 VMs but 7 attach/);
});

test('egress: deny, allow or a list of well-formed public destinations', () => {
  const egress = (value: unknown) => {
    const spec = twoNetworks();
    spec.networks[0] = { ...spec.networks[0], egress: value };
    return spec;
  };
  assert.ok(parseLabSpec(egress('allow')).ok);
  assert.ok(parseLabSpec(egress(['0.0.0.0/0:80', 'udp/198.51.100.53:53', 'icmp/203.0.113.0/24'])).ok);
  assertOnlyIssue(egress('sometimes'), ['networks', 0, 'egress'], /must be allow, deny or a list/);
  assertOnlyIssue(egress([]), ['networks', 0, 'egress'], /empty list denies everything: write deny/);
  assertOnlyIssue(egress(['203.0.113.5:443', '203.0.113.5']), ['networks', 0, 'egress', 1], /tcp needs a port/);
  assertOnlyIssue(egress(['example.com:443']), ['networks', 0, 'egress', 0], /ADDRESS/);
  assertOnlyIssue(
    egress(['10.1.2.3:443']),
    ['networks', 0, 'egress', 0],
    /10\.1\.2\.3 lies in 10\.0\.0\.0\/8, which egress never reaches/,
  );
  assertOnlyIssue(egress(['169.254.169.254:80']), ['networks', 0, 'egress', 0], /169\.254\.0\.0\/16/);
  assertOnlyIssue(egress(['203.0.113.0/24:80-79']), ['networks', 0, 'egress', 0], /80-79 is not a range/);
  assertOnlyIssue(egress([42]), ['networks', 0, 'egress', 0], /./);
});

test('intra is allow or deny; every problem in one spec is reported at once', () => {
  const spec = twoNetworks();
  spec.networks[0] = { ...spec.networks[0], intra: 'sometimes', gateway: 'x' };
  spec.rules = [{ from: 'attacker', to: 'web', ports: ['tcp/x'] }];
  assert.deepEqual(
    issuesOf(spec).map((issue) => issue.path),
    [
      ['networks', 0, 'gateway'],
      ['networks', 0, 'intra'],
      ['rules', 0, 'ports', 0],
    ],
  );
});
