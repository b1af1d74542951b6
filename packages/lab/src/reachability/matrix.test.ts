import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseLabSpec } from '../spec/parse';
import type { LabSpec } from '../spec/resolve';
import { arbitraryLabSpec } from '../test-arbitraries';
import { reachabilityMatrix } from './matrix';
import type { ReachabilityProbe } from './probes';

function parsed(input: unknown): LabSpec {
  const result = parseLabSpec(input);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.spec;
}

/** The issue's lab: dmz and internal, a dual-homed web server, a db, an attacker, two copies. */
const ISSUE_LAB = {
  name: 'dmz-lab',
  copies: 2,
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
    { name: 'db', os: 'debian-12', diskGiB: 20, networks: ['internal'] },
    { name: 'attacker', os: 'kali', networks: ['dmz'] },
  ],
};

function line(probe: ReachabilityProbe): string {
  return `${probe.key} ${probe.expected} ${probe.why}`;
}

test("the issue's lab: the probes it promises, each with its expectation and reason", () => {
  const probes = reachabilityMatrix(parsed(ISSUE_LAB));
  assert.deepEqual(probes.map(line), [
    // Rules: dmz → web:80 and web → db:5432, both open anyway inside their network (intra: allow).
    'attacker>web@10.10.1.10/tcp:80 reach same-network',
    'web>db@10.10.2.2/tcp:5432 reach same-network',
    // Inside each network.
    'web>attacker@10.10.1.2/tcp:22 reach same-network',
    'attacker>web@10.10.1.10/tcp:22 reach same-network',
    'web>db@10.10.2.2/tcp:22 reach same-network',
    'db>web@10.10.2.10/tcp:22 reach same-network',
    // Between networks: the attacker reaches neither the db nor web's internal side; nor back.
    'attacker>db@10.10.2.2/tcp:5432 blocked default-deny',
    'attacker>web@10.10.2.10/tcp:80 blocked default-deny',
    'db>attacker@10.10.1.2/tcp:80 blocked default-deny',
    'db>web@10.10.1.10/tcp:80 blocked default-deny',
    // Egress: dmz denies it, internal's default is deny too.
    'web>outside@203.0.113.10/tcp:80 blocked egress',
    'db>outside@203.0.113.10/tcp:80 blocked egress',
    'attacker>outside@203.0.113.10/tcp:80 blocked egress',
    // Management SSH is Glassdome's alone.
    'web>db@management/tcp:22 blocked management',
    'db>attacker@management/tcp:22 blocked management',
    'attacker>web@management/tcp:22 blocked management',
    // Nothing of the other copy.
    'web>other:attacker@10.10.1.2/tcp:22 blocked cross-copy',
    'web>other:db@10.10.2.2/tcp:22 blocked cross-copy',
    'web>other:web@management/tcp:22 blocked cross-copy',
    'db>other:db@management/tcp:22 blocked cross-copy',
    'attacker>other:attacker@management/tcp:22 blocked cross-copy',
  ]);
  const web = probes.find((probe) => probe.key === 'web>db@10.10.2.2/tcp:5432');
  assert.deepEqual(web, {
    key: 'web>db@10.10.2.2/tcp:5432',
    fromVm: 'web',
    toVm: 'db',
    toCopy: 'same',
    target: 'lab',
    toNetwork: 'internal',
    toAddress: '10.10.2.2',
    proto: 'tcp',
    port: 5432,
    expected: 'reach',
    why: 'same-network',
  });
  const management = probes.find((probe) => probe.target === 'management')!;
  assert.equal(management.toAddress, null, 'only the prober knows management addresses');
});

test('egress lists and outside targets: a probe per allowed destination, and the configured ones', () => {
  const spec = parsed({
    name: 'egress',
    networks: [
      { name: 'lan', cidr: '10.0.0.0/24', egress: ['203.0.113.0/24:443', 'udp/198.51.100.53:53', 'icmp/0.0.0.0/0'] },
    ],
    vms: [{ name: 'box', os: 'debian-12', count: 3, networks: ['lan'] }],
  });
  const probes = reachabilityMatrix(spec, {
    outside: [
      { address: '203.0.113.10', port: 80 },
      { address: '203.0.113.10', port: 443 },
    ],
  }).filter((probe) => probe.target === 'outside');
  assert.deepEqual(probes.map(line), [
    'box-1>outside@203.0.113.10/tcp:80 blocked egress',
    'box-1>outside@203.0.113.10/tcp:443 reach egress',
    'box-1>outside@198.51.100.53/udp:53 reach egress',
    'box-1>outside@203.0.113.10/icmp reach egress',
  ]);
  assert.throws(() => reachabilityMatrix(spec, { outside: [{ address: '10.1.1.1' }] }), /public IPv4 address/);
});

test('a router between networks: the routed rule reaches, everything else it could carry does not', () => {
  const spec = parsed({
    name: 'routed',
    networks: [
      { name: 'clients', cidr: '10.30.0.0/24', gateway: '10.30.0.5' },
      { name: 'servers', cidr: '10.31.0.0/24', gateway: '10.31.0.5' },
    ],
    rules: [{ from: 'clients', to: 'web', ports: ['tcp/80'] }],
    vms: [
      {
        name: 'sensor',
        os: 'debian-12',
        networks: [
          { name: 'clients', ip: '10.30.0.5' },
          { name: 'servers', ip: '10.31.0.5' },
        ],
      },
      { name: 'web', os: 'debian-12', networks: [{ name: 'servers', ip: '10.31.0.10' }] },
      { name: 'ws', os: 'debian-12', count: 2, networks: ['clients'] },
    ],
  });
  const lab = reachabilityMatrix(spec)
    .filter((probe) => probe.target === 'lab')
    .map(line);
  assert.ok(lab.includes('ws-1>web@10.31.0.10/tcp:80 reach rule'), lab.join('\n'));
  assert.ok(lab.includes('ws-1>web@10.31.0.10/tcp:22 blocked default-deny'), lab.join('\n'));
  assert.ok(lab.includes('web>ws-1@10.30.0.1/tcp:80 blocked default-deny'), lab.join('\n'));
});

test('any valid spec: keys unique, expectations consistent, size bounded by the spec, not by count or copies', () => {
  fc.assert(
    fc.property(arbitraryLabSpec, (spec) => {
      const probes = reachabilityMatrix(spec);
      assert.equal(new Set(probes.map((probe) => probe.key)).size, probes.length);
      const networks = spec.networks.length;
      const entries = spec.vms.length;
      const rulePorts = spec.rules.reduce((sum, rule) => sum + 2 * rule.ports.length, 0);
      const egressEntries = spec.networks.reduce((sum, n) => sum + (Array.isArray(n.egress) ? n.egress.length : 0), 0);
      const bound =
        rulePorts + 2 * networks + 2 * networks * networks + entries * (1 + egressEntries) + 2 * entries + networks;
      assert.ok(probes.length <= bound, `${probes.length} probes > ${bound}`);
      for (const probe of probes) {
        if (probe.why === 'management' || probe.why === 'cross-copy') assert.equal(probe.expected, 'blocked');
        if (probe.why === 'rule') assert.equal(probe.expected, 'reach');
        if (probe.why === 'default-deny') assert.equal(probe.expected, 'blocked');
        assert.equal(probe.target === 'lab', probe.toNetwork !== null);
        assert.equal(probe.target === 'outside', probe.toVm === null);
        assert.equal(probe.proto === 'icmp', probe.port === null);
      }
      if (spec.copies === 1) assert.ok(probes.every((probe) => probe.toCopy === 'same'));
    }),
    { numRuns: 150 },
  );
});
