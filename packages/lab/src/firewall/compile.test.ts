import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabSpec } from '../spec/parse';
import type { LabSpec } from '../spec/resolve';
import { compileLabFirewall, LAB_VM_FIREWALL_OPTIONS } from './compile';
import { FirewallContextError } from './context';
import { portMatches } from './dport';
import { evaluateFirewall } from './evaluate';
import type { PveFirewallRule, PveIpset } from './types';

function parsed(input: unknown): LabSpec {
  const result = parseLabSpec(input);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.spec;
}

const SMALL = {
  name: 'small',
  networks: [{ name: 'lan', cidr: '10.10.0.0/24', intra: 'deny', egress: ['203.0.113.5:443'] }],
  rules: [{ from: 'attacker', to: 'target', ports: ['tcp/80', 'tcp/22', 'tcp/8000-8100'] }],
  vms: [
    { name: 'target', os: 'ubuntu-22.04', networks: [{ name: 'lan', ip: '10.10.0.10' }] },
    { name: 'attacker', os: 'kali', networks: ['lan'] },
  ],
};

// Glassdome sits inside the management network here, as on a flat lab LAN.
const CONTEXT = {
  management: { sources: ['192.168.100.5'], guestCidr: '192.168.100.0/24' },
  managementAddresses: { target: '192.168.100.20' },
  tag: 'lab-1/c0',
};

const NO_EGRESS: PveIpset = {
  name: 'gd-noegress',
  comment: 'gd:lab-1/c0 never reached by egress',
  // The management ranges lie inside 192.168.0.0/16, so they need no entry of their own.
  entries: [
    '0.0.0.0/8',
    '10.0.0.0/8',
    '100.64.0.0/10',
    '127.0.0.0/8',
    '169.254.0.0/16',
    '172.16.0.0/12',
    '192.168.0.0/16',
    '224.0.0.0/4',
    '240.0.0.0/4',
  ].map((cidr) => ({ cidr })),
};

function managementRules(): PveFirewallRule[] {
  return [
    {
      type: 'in',
      action: 'ACCEPT',
      enable: 1,
      iface: 'net1',
      // Glassdome's one source, in the rule itself (no IPSet of its own).
      source: '192.168.100.5',
      proto: 'tcp',
      dport: '22',
      comment: 'gd:lab-1/c0 management ssh',
    },
    {
      type: 'out',
      action: 'DROP',
      enable: 1,
      iface: 'net1',
      dest: '+gd-noegress',
      comment: 'gd:lab-1/c0 egress never private or management',
    },
    {
      type: 'out',
      action: 'ACCEPT',
      enable: 1,
      iface: 'net1',
      dest: '203.0.113.5',
      proto: 'tcp',
      dport: '443',
      comment: 'gd:lab-1/c0 egress tcp/203.0.113.5:443',
    },
  ];
}

test('a small lab compiles to exactly these objects', () => {
  const firewall = compileLabFirewall(parsed(SMALL), CONTEXT);
  assert.deepEqual(firewall, {
    vms: [
      {
        vm: 'target',
        options: {
          enable: 1,
          policy_in: 'DROP',
          policy_out: 'DROP',
          ipfilter: 1,
          macfilter: 1,
          dhcp: 1,
          ndp: 0,
          radv: 0,
        },
        ipsets: [
          { name: 'ipfilter-net0', comment: 'gd:lab-1/c0 lan', entries: [{ cidr: '10.10.0.10' }] },
          { name: 'ipfilter-net1', comment: 'gd:lab-1/c0 management', entries: [{ cidr: '192.168.100.20' }] },
          NO_EGRESS,
        ],
        rules: [
          ...managementRules(),
          {
            type: 'in',
            action: 'ACCEPT',
            enable: 1,
            iface: 'net0',
            source: '10.10.0.2',
            proto: 'tcp',
            dport: '22,80,8000:8100',
            comment: 'gd:lab-1/c0 rule 0 attacker>target',
          },
        ],
      },
      {
        vm: 'attacker',
        options: { ...LAB_VM_FIREWALL_OPTIONS },
        ipsets: [
          { name: 'ipfilter-net0', comment: 'gd:lab-1/c0 lan', entries: [{ cidr: '10.10.0.2' }] },
          {
            name: 'ipfilter-net1',
            comment: 'gd:lab-1/c0 management',
            // Its management address is not known yet: the network, except Glassdome's own address.
            entries: [{ cidr: '192.168.100.0/24' }, { cidr: '192.168.100.5', nomatch: 1 }],
          },
          NO_EGRESS,
        ],
        rules: [
          ...managementRules(),
          {
            type: 'out',
            action: 'ACCEPT',
            enable: 1,
            iface: 'net0',
            dest: '10.10.0.10',
            proto: 'tcp',
            dport: '22,80,8000:8100',
            comment: 'gd:lab-1/c0 rule 0 attacker>target',
          },
        ],
      },
    ],
  });
  // Objects are plain data: they survive JSON unchanged, as a job payload or an API body.
  assert.deepEqual(JSON.parse(JSON.stringify(firewall)), firewall);
});

test("a rule's source holds Glassdome's sources, in order, up to PVE's 512 characters; past them the VM's gd-mgmt IPSet does, each network once", () => {
  const twelve = (count: number) => Array.from({ length: count }, (_, i) => `198.18.1.${100 + i}`);
  const fits = [...twelve(38), '198.180.100.100/30'];
  const over = [...twelve(37), '198.180.100.100/30', '198.18.20.100'];
  assert.equal(fits.join(',').length, 512);
  assert.equal(over.join(',').length, 513);
  const sourceOf = (sources: string[]) => {
    const firewall = compileLabFirewall(parsed(SMALL), { ...CONTEXT, management: { ...CONTEXT.management, sources } });
    const target = firewall.vms.find((vm) => vm.vm === 'target')!;
    return { rule: target.rules[0]!.source, set: target.ipsets.find((ipset) => ipset.name === 'gd-mgmt') };
  };
  assert.deepEqual(sourceOf(fits), { rule: fits.join(','), set: undefined });
  const long = sourceOf(over);
  assert.equal(long.rule, '+gd-mgmt');
  assert.deepEqual(
    long.set?.entries.map((entry) => entry.cidr),
    over,
  );
  // A network given twice is written once (PVE refuses a second equal entry in an IPSet).
  assert.deepEqual(
    sourceOf([...over, over[0]!, '198.18.1.100/32']).set?.entries.map((entry) => entry.cidr),
    over,
  );
  assert.equal(sourceOf(['192.168.100.5', '192.168.100.5/32']).rule, '192.168.100.5');
});

test('no guest passes for Glassdome on the management network, nor for another guest on a lab network', () => {
  const [, attacker] = compileLabFirewall(parsed(SMALL), CONTEXT).vms;
  const address = (text: string) => text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
  const out = (iface: string, source: string) =>
    evaluateFirewall(attacker!, 'out', {
      iface,
      source: address(source),
      dest: address('203.0.113.5'),
      proto: 'tcp',
      port: 443,
    });
  assert.equal(out('net1', '192.168.100.77').action, 'ACCEPT');
  assert.deepEqual(out('net1', '192.168.100.5'), { action: 'DROP', by: 'ipfilter' });
  assert.deepEqual(out('net0', '10.10.0.10'), { action: 'DROP', by: 'ipfilter' });
});

test('a router carries exactly the routed rule: transit in and out, and its NICs admit its other networks', () => {
  const spec = parsed({
    name: 'routed',
    networks: [
      { name: 'clients', cidr: '10.30.0.0/24', gateway: '10.30.0.5', intra: 'deny' },
      { name: 'servers', cidr: '10.31.0.0/24', gateway: '10.31.0.5' },
    ],
    rules: [{ from: 'clients', to: 'web', ports: ['tcp/80', 'icmp'] }],
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
  const firewall = compileLabFirewall(spec, { management: { sourcesIpset: 'glassdome', guestCidr: '172.20.0.0/16' } });
  const [sensor, web, ws1] = firewall.vms;
  const brief = (rules: PveFirewallRule[]) =>
    rules.map((rule) =>
      [
        rule.type,
        rule.iface,
        rule.source ?? '*',
        rule.dest ?? '*',
        rule.proto ?? '*',
        rule.dport ?? '*',
        rule.comment,
      ].join(' '),
    );
  assert.deepEqual(brief(sensor!.rules), [
    'in net2 +dc/glassdome * tcp 22 gd management ssh',
    // clients is closed inside (intra: deny); servers is open.
    'out net1 * 10.31.0.0/24 * * gd intra servers',
    'in net1 10.31.0.0/24 * * * gd intra servers',
    'in net0 10.30.0.0/24 10.31.0.10 tcp 80 gd transit rule 0 clients>web',
    'in net0 10.30.0.0/24 10.31.0.10 icmp * gd transit rule 0 clients>web',
    'out net1 10.30.0.0/24 10.31.0.10 tcp 80 gd transit rule 0 clients>web',
    'out net1 10.30.0.0/24 10.31.0.10 icmp * gd transit rule 0 clients>web',
  ]);
  assert.deepEqual(
    sensor!.ipsets.map((set) => [set.name, set.entries.map((entry) => entry.cidr)]),
    [
      ['ipfilter-net0', ['10.30.0.5', '10.31.0.0/24']],
      ['ipfilter-net1', ['10.31.0.5', '10.30.0.0/24']],
      ['ipfilter-net2', ['172.20.0.0/16']],
    ],
    'a cluster IPSet of sources needs no gd-mgmt, and egress deny needs no gd-noegress',
  );
  assert.deepEqual(brief(web!.rules).slice(3), [
    'in net0 10.30.0.0/24 * tcp 80 gd rule 0 clients>web',
    'in net0 10.30.0.0/24 * icmp * gd rule 0 clients>web',
  ]);
  assert.deepEqual(brief(ws1!.rules).slice(1), [
    'out net0 * 10.31.0.10 tcp 80 gd rule 0 clients>web',
    'out net0 * 10.31.0.10 icmp * gd rule 0 clients>web',
  ]);
});

test('egress: allow opens every public address after the never-egress drop; deny opens nothing; a VM takes the union', () => {
  const spec = parsed({
    name: 'egress',
    networks: [
      { name: 'open', cidr: '10.1.0.0/24', egress: 'allow' },
      { name: 'closed', cidr: '10.2.0.0/24' },
      { name: 'listed', cidr: '10.3.0.0/24', egress: ['udp/198.51.100.53:53', 'icmp/203.0.113.0/24', '0.0.0.0/0:80'] },
    ],
    vms: [
      { name: 'both', os: 'debian-12', networks: ['closed', 'open'] },
      { name: 'shut', os: 'debian-12', networks: ['closed'] },
      { name: 'some', os: 'debian-12', networks: ['listed', 'closed'] },
    ],
  });
  const [both, shut, some] = compileLabFirewall(spec, CONTEXT).vms;
  const egress = (rules: PveFirewallRule[]) =>
    rules
      .filter((rule) => rule.type === 'out' && rule.comment.includes('egress'))
      .map((rule) => rule.comment.slice(12));
  assert.deepEqual(egress(both!.rules), ['egress never private or management', 'egress any public']);
  assert.equal(both!.rules.find((rule) => rule.comment.endsWith('any public'))?.dest, '0.0.0.0/0', 'IPv4 only');
  assert.deepEqual(egress(shut!.rules), []);
  assert.ok(!shut!.ipsets.some((set) => set.name === 'gd-noegress'));
  assert.deepEqual(egress(some!.rules), [
    'egress never private or management',
    'egress udp/198.51.100.53:53',
    'egress icmp/203.0.113.0/24',
    'egress tcp/0.0.0.0/0:80',
  ]);
  assert.ok(
    some!.rules.every((rule) => rule.iface !== 'net2' || rule.comment.includes('egress') || rule.type === 'in'),
  );
});

test('ports: merged, ordered by protocol, split at 15 numbers per rule as PVE requires', () => {
  const spec = (text: string) => {
    const parsedPort = /^(tcp|udp)\/(\d+)(?:-(\d+))?$/.exec(text);
    if (!parsedPort) return { proto: 'icmp' as const };
    const from = Number(parsedPort[2]);
    return {
      proto: parsedPort[1] as 'tcp' | 'udp',
      from,
      to: parsedPort[3] === undefined ? from : Number(parsedPort[3]),
    };
  };
  assert.deepEqual(portMatches(['icmp', 'udp/53', 'tcp/81', 'tcp/80', 'tcp/82-90', 'tcp/85'].map(spec)), [
    { proto: 'tcp', dport: '80:90' },
    { proto: 'udp', dport: '53' },
    { proto: 'icmp' },
  ]);
  const many = Array.from({ length: 20 }, (_, index) => spec(`tcp/${1000 + 2 * index}`));
  many.push(spec('tcp/2000-2100'));
  const split = portMatches(many);
  assert.deepEqual(
    split.map((match) => ('dport' in match ? match.dport.split(',').length : 0)),
    [15, 6],
  );
  assert.ok(split.every((match) => 'dport' in match && !match.dport.includes(',2000:2100,')));
});

test('a context that cannot work is refused with a clear error', () => {
  const spec = parsed(SMALL);
  const broken: [unknown, RegExp][] = [
    [{ management: { guestCidr: '192.168.100.0/24' } }, /exactly one of sources and sourcesIpset/],
    [{ management: { sources: ['1.2.3.4'], sourcesIpset: 'x1', guestCidr: '192.168.100.0/24' } }, /exactly one/],
    [{ management: { sources: [], guestCidr: '192.168.100.0/24' } }, /sources is empty/],
    [{ management: { sources: ['1.2.3.4/24'], guestCidr: '192.168.100.0/24' } }, /network address\/prefix/],
    [{ management: { sourcesIpset: '9bad', guestCidr: '192.168.100.0/24' } }, /not a valid IPSet name/],
    [
      { management: { sources: ['1.2.3.4'], guestCidr: '10.0.0.0/8' } },
      /lab network lan .* overlaps the management network 10\.0\.0\.0\/8/,
    ],
    [
      { management: { sources: ['10.10.0.9'], guestCidr: '192.168.100.0/24' } },
      /overlaps the management network 10\.10\.0\.9\/32/,
    ],
    [{ management: { sources: ['1.2.3.4'], guestCidr: '192.168.100.0/24', sshPort: 0 } }, /sshPort/],
    [{ management: { sources: ['1.2.3.4'], guestCidr: '192.168.100.0/24' }, tag: 'a b' }, /tag/],
  ];
  for (const [context, message] of broken) {
    assert.throws(
      () => compileLabFirewall(spec, context as Parameters<typeof compileLabFirewall>[1]),
      (error: unknown) => error instanceof FirewallContextError && message.test(error.message),
      JSON.stringify(context),
    );
  }
});

test('copies compile the same but for their management addresses and tag', () => {
  const spec = parsed({ ...SMALL, copies: 3 });
  const copy = (index: number) =>
    compileLabFirewall(spec, {
      management: CONTEXT.management,
      managementAddresses: { target: `192.168.100.${20 + index}` },
      tag: `lab-1/c${index}`,
    });
  const strip = (value: unknown) =>
    JSON.parse(
      JSON.stringify(value)
        .replace(/lab-1\/c\d/g, 'TAG')
        .replace(/192\.168\.100\.2\d/g, 'MGMT'),
    );
  assert.deepEqual(strip(copy(1)), strip(copy(2)));
  assert.notDeepEqual(copy(1), copy(2));
});
