/**
 * The compiled firewall against what the spec means, on random labs: every probe of the matrix
 * gets the verdict it expects when walked through the compiled objects (addresses, routes, each
 * VM's firewall judged as pve-firewall would), and so does any other packet one VM might send.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { labAddressing } from '../network/addressing';
import { labTopology } from '../network/topology';
import { expectEgress, expectLabTraffic } from '../reachability/expectations';
import { reachabilityMatrix } from '../reachability/matrix';
import type { ReachabilityProbe } from '../reachability/probes';
import { type DeployedLab, walkProbe } from '../reachability/walk';
import { formatIpv4, parseIpv4 } from '../spec/ipv4';
import type { Protocol } from '../spec/policy';
import type { LabSpec } from '../spec/resolve';
import { arbitraryLabSpec } from '../test-arbitraries';
import { compileLabFirewall } from './compile';
import { evaluateFirewall } from './evaluate';
import { PVE_IPSET_NAME, pveRuleProblems } from './limits';

const RUNS = { numRuns: 150 };
const GUARD = { timeout: 120_000 };
const MANAGEMENT = { sources: ['127.0.0.1'], guestCidr: '127.64.0.0/16' };

/** Every copy compiled with its own management addresses (127.64.<copy>.<n>). */
function deploy(spec: LabSpec): DeployedLab {
  const addressing = labAddressing(spec);
  return {
    copies: Array.from({ length: spec.copies }, (_, copy) => {
      const managementAddresses = Object.fromEntries(
        addressing.vms.map((vm, index) => [vm.vm, `127.64.${copy}.${index + 2}`]),
      );
      const firewall = compileLabFirewall(spec, { management: MANAGEMENT, managementAddresses, tag: `prop/c${copy}` });
      return { addressing, firewalls: new Map(firewall.vms.map((vm) => [vm.vm, vm])), managementAddresses };
    }),
  };
}

function describe(probe: ReachabilityProbe, trace: string[]): string {
  return `${probe.key} expected ${probe.expected} (${probe.why}); trace: ${trace.join(' | ')}`;
}

test('every probe of the matrix gets the verdict it expects from the compiled firewall, in every copy', GUARD, () => {
  fc.assert(
    fc.property(arbitraryLabSpec, (spec) => {
      const lab = deploy(spec);
      for (const probe of reachabilityMatrix(spec)) {
        for (let copy = 0; copy < spec.copies; copy++) {
          const walked = walkProbe(lab, probe, copy);
          assert.equal(walked.verdict, probe.expected, describe(probe, walked.trace));
        }
      }
    }),
    RUNS,
  );
});

const packet = fc.record({
  proto: fc.constantFrom<Protocol>('tcp', 'udp', 'icmp'),
  port: fc.oneof(fc.constantFrom(22, 53, 80, 443, 8000, 8050, 8100, 8101), fc.integer({ min: 1, max: 65535 })),
});

test('any lab packet: the compiled firewall lets through exactly what the spec allows', GUARD, () => {
  const lab = fc.tuple(
    arbitraryLabSpec,
    fc.nat(),
    fc.nat(),
    fc.nat(),
    fc.array(packet, { minLength: 1, maxLength: 8 }),
  );
  fc.assert(
    fc.property(lab, ([spec, fromPick, toPick, networkPick, packets]) => {
      const topology = labTopology(spec);
      const names = [...topology.vms.keys()];
      const from = names[fromPick % names.length]!;
      const to = names[toPick % names.length]!;
      fc.pre(from !== to);
      const target = topology.vms.get(to)!;
      const nic = target.nics[networkPick % target.nics.length]!;
      const deployed = deploy(spec);
      for (const { proto, port: anyPort } of packets) {
        const port = proto === 'icmp' ? null : anyPort;
        const expected = expectLabTraffic(topology, from, to, nic.network, proto, port);
        const probe: ReachabilityProbe = {
          key: 'adhoc',
          fromVm: from,
          toVm: to,
          toCopy: 'same',
          target: 'lab',
          toNetwork: nic.network,
          toAddress: nic.address,
          proto,
          port,
          ...expected,
        };
        const walked = walkProbe(deployed, probe);
        assert.equal(walked.verdict, expected.expected, describe({ ...probe, key: `${from}>${to}` }, walked.trace));
      }
    }),
    RUNS,
  );
});

const outsideAddress = fc.oneof(
  fc.constantFrom('203.0.113.10', '203.0.113.53', '198.51.100.7', '198.51.100.200', '8.8.8.8'),
  fc.constantFrom('10.0.0.10', '192.168.1.1', '169.254.169.254', '127.0.0.1', '127.64.0.3', '224.0.0.1'),
  fc.ipV4(),
);

test('any packet leaving by the management NIC: egress as the spec allows, never private or management', GUARD, () => {
  const lab = fc.tuple(
    arbitraryLabSpec,
    fc.nat(),
    fc.array(fc.tuple(outsideAddress, packet), { minLength: 1, maxLength: 8 }),
  );
  fc.assert(
    fc.property(lab, ([spec, fromPick, packets]) => {
      const topology = labTopology(spec);
      const names = [...topology.vms.keys()];
      const from = names[fromPick % names.length]!;
      const deployed = deploy(spec);
      for (const [address, { proto, port: anyPort }] of packets) {
        const number = parseIpv4(address)!;
        // Lab addresses are reached over lab networks; this test is about what leaves the lab.
        fc.pre(![...topology.networks.values()].some((network) => network.range.base >>> 8 === number >>> 8));
        const port = proto === 'icmp' ? null : anyPort;
        const expected = expectEgress(topology, from, number, proto, port);
        const probe: ReachabilityProbe = {
          key: 'adhoc',
          fromVm: from,
          toVm: null,
          toCopy: 'same',
          target: 'outside',
          toNetwork: null,
          toAddress: formatIpv4(number),
          proto,
          port,
          ...expected,
        };
        const walked = walkProbe(deployed, probe);
        assert.equal(
          walked.verdict,
          expected.expected,
          describe({ ...probe, key: `${from}>${address}` }, walked.trace),
        );
        if (number >>> 16 === (127 << 8) + 64) assert.equal(walked.verdict, 'blocked', 'the management network');
      }
    }),
    RUNS,
  );
});

test(
  'management NICs: Glassdome in on SSH only, no guest of any copy in at all; objects within PVE limits',
  GUARD,
  () => {
    fc.assert(
      fc.property(arbitraryLabSpec, fc.constantFrom(22, 80, 8006), (spec, port) => {
        const lab = deploy(spec);
        for (const copy of lab.copies) {
          for (const vm of copy.addressing.vms) {
            const firewall = copy.firewalls.get(vm.vm)!;
            const iface = `net${vm.managementNic}`;
            const dest = parseIpv4(copy.managementAddresses[vm.vm]!)!;
            const fromGlassdome = evaluateFirewall(firewall, 'in', {
              iface,
              source: parseIpv4('127.0.0.1')!,
              dest,
              proto: 'tcp',
              port,
            });
            assert.equal(fromGlassdome.action, port === 22 ? 'ACCEPT' : 'DROP');
            for (const other of lab.copies.flatMap((c) => Object.values(c.managementAddresses))) {
              const fromGuest = evaluateFirewall(firewall, 'in', {
                iface,
                source: parseIpv4(other)!,
                dest,
                proto: 'tcp',
                port: 22,
              });
              assert.equal(fromGuest.action, 'DROP');
            }
            for (const rule of firewall.rules) assert.deepEqual(pveRuleProblems(rule), [], JSON.stringify(rule));
            for (const ipset of firewall.ipsets) assert.match(ipset.name, PVE_IPSET_NAME);
          }
        }
      }),
      { numRuns: 60 },
    );
  },
);
