/**
 * fast-check generators of valid lab specs with network policy, shared by this package's property
 * tests: networks with every intra, egress and gateway setting, dual-homed and counted VMs, static
 * and allocated addresses, and rules between networks and VMs.
 */
import fc from 'fast-check';
import { parseLabSpec } from './spec/parse';
import type { LabSpec } from './spec/resolve';

const PORTS = ['tcp/22', 'tcp/80', 'tcp/8000-8100', 'udp/53', 'icmp', 'tcp/443'];
const EGRESS = [
  '203.0.113.0/24:80',
  'icmp/198.51.100.0/24',
  'udp/203.0.113.53:53',
  '0.0.0.0/0:443',
  '198.51.100.7:8080',
];

interface Draft {
  copies: number;
  networks: { intra: 'allow' | 'deny'; egress: 'allow' | 'deny' | string[] }[];
  vms: { networks: number[]; count: number | null; statics: boolean[] }[];
  gateways: (number | null)[];
  /** A VM `gw` on every network, holding each one's first host as its gateway. */
  router: boolean;
  rules: { from: number; to: number; ports: string[] }[];
}

const draft: fc.Arbitrary<Draft> = fc
  .record({ networkCount: fc.integer({ min: 1, max: 3 }), vmCount: fc.integer({ min: 1, max: 4 }) })
  .chain(({ networkCount, vmCount }) =>
    fc.record({
      copies: fc.integer({ min: 1, max: 2 }),
      networks: fc.array(
        fc.record({
          intra: fc.constantFrom('allow' as const, 'deny' as const),
          egress: fc.oneof(
            fc.constantFrom('allow' as const, 'deny' as const),
            fc.uniqueArray(fc.constantFrom(...EGRESS), { minLength: 1, maxLength: 3 }),
          ),
        }),
        { minLength: networkCount, maxLength: networkCount },
      ),
      vms: fc.array(
        fc.record({
          // A VM's networks in the order it lists them.
          networks: fc.shuffledSubarray([...Array(networkCount).keys()], { minLength: 1 }),
          count: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 1 }),
          statics: fc.array(fc.boolean(), { minLength: networkCount, maxLength: networkCount }),
        }),
        { minLength: vmCount, maxLength: vmCount },
      ),
      router: fc.boolean(),
      // Per network, the VM meant to be its router (when it is on the network with a static address).
      gateways: fc.array(fc.option(fc.integer({ min: 0, max: vmCount - 1 })), {
        minLength: networkCount,
        maxLength: networkCount,
      }),
      rules: fc.array(
        fc.record({
          from: fc.integer({ min: 0, max: networkCount + vmCount - 1 }),
          to: fc.integer({ min: 0, max: networkCount + vmCount - 1 }),
          ports: fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 3 }),
        }),
        { maxLength: 4 },
      ),
    }),
  );

function staticAddress(network: number, vm: number): string {
  return `10.${network}.0.${10 + vm}`;
}

function specOf(d: Draft): Record<string, unknown> & { rules: unknown[] } {
  const networkName = (index: number) => `n${index}`;
  const vmName = (index: number) => `v${index}`;
  const hasStatic = (vm: number, network: number) =>
    d.vms[vm]!.count === null && d.vms[vm]!.networks.includes(network) && d.vms[vm]!.statics[network]!;
  const networks = d.networks.map((network, index) => {
    const router = d.gateways[index];
    const gateway = d.router
      ? { gateway: `10.${index}.0.1` }
      : router !== null && router !== undefined && d.vms[router] && hasStatic(router, index)
        ? { gateway: staticAddress(index, router) }
        : {};
    return {
      name: networkName(index),
      cidr: `10.${index}.0.0/24`,
      intra: network.intra,
      egress: network.egress,
      ...gateway,
    };
  });
  const vms = d.vms.map((vm, index) => ({
    name: vmName(index),
    os: 'debian-12',
    ...(vm.count === null ? {} : { count: vm.count }),
    networks: vm.networks.map((network) =>
      hasStatic(index, network)
        ? { name: networkName(network), ip: staticAddress(network, index) }
        : networkName(network),
    ),
  }));
  if (d.router) {
    vms.push({
      name: 'gw',
      os: 'debian-12',
      networks: d.networks.map((_, index) => ({ name: networkName(index), ip: `10.${index}.0.1` })),
    });
  }
  const endpoint = (index: number) =>
    index < d.networks.length ? networkName(index) : vmName(index - d.networks.length);
  const rules = d.rules.map((rule) => ({ from: endpoint(rule.from), to: endpoint(rule.to), ports: rule.ports }));
  return { name: 'prop', copies: d.copies, networks, vms, rules };
}

/** Drops the rules validation refuses (self-rules, rules no traffic could follow), then parses. */
function validSpec(d: Draft): LabSpec | null {
  const spec = specOf(d);
  for (;;) {
    const result = parseLabSpec(spec);
    if (result.ok) return result.spec;
    const refused = new Set(result.issues.filter((issue) => issue.path[0] === 'rules').map((issue) => issue.path[1]));
    if (refused.size === 0 || refused.size < result.issues.length) return null;
    spec.rules = spec.rules.filter((_, index) => !refused.has(index));
  }
}

/** Valid lab specs with network policy (one to three networks, one to four VM entries). */
export const arbitraryLabSpec: fc.Arbitrary<LabSpec> = draft
  .map(validSpec)
  .filter((spec): spec is LabSpec => spec !== null);
