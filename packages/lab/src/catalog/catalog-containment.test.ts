import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileLabFirewall } from '../firewall/compile';
import { labAddressing } from '../network/addressing';
import { reachabilityMatrix } from '../reachability/matrix';
import { type DeployedLab, walkProbe } from '../reachability/walk';
import { parseLabSpec } from '../spec/parse';
import type { LabSpec } from '../spec/resolve';
import { LAB_CATALOG, resolveCatalogTemplate } from '.';

function catalogSpec(id: string, copies = 1): LabSpec {
  const entry = resolveCatalogTemplate(id);
  assert.ok(entry, id);
  const result = parseLabSpec({ ...entry.spec, copies });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.spec;
}

function deploy(spec: LabSpec): DeployedLab {
  const addressing = labAddressing(spec);
  return {
    copies: Array.from({ length: spec.copies }, (_, copy) => {
      const managementAddresses = Object.fromEntries(
        addressing.vms.map((vm, index) => [vm.vm, `127.64.${copy}.${index + 2}`]),
      );
      const firewall = compileLabFirewall(spec, {
        management: { sources: ['127.0.0.1'], guestCidr: '127.64.0.0/16' },
        managementAddresses,
      });
      return { addressing, firewalls: new Map(firewall.vms.map((vm) => [vm.vm, vm])), managementAddresses };
    }),
  };
}

function matrixLines(spec: LabSpec): string[] {
  return reachabilityMatrix(spec).map((probe) => `${probe.key} ${probe.expected} ${probe.why}`);
}

test('every catalog lab, in two copies, holds its own reachability matrix', () => {
  for (const entry of LAB_CATALOG) {
    const spec = catalogSpec(entry.id, 2);
    const lab = deploy(spec);
    for (const probe of reachabilityMatrix(spec)) {
      for (const copy of [0, 1]) {
        const walked = walkProbe(lab, probe, copy);
        assert.equal(
          walked.verdict,
          probe.expected,
          `${entry.id} copy ${copy}: ${probe.key}: ${walked.trace.join(' | ')}`,
        );
      }
    }
  }
});

test('web-pentest-101: the target serves http://10.10.0.10/ to the attacker, which reaches it on HTTP and SSH only', () => {
  const spec = catalogSpec('web-pentest-101');
  const target = labAddressing(spec).vms.find((vm) => vm.vm === 'target')!;
  assert.deepEqual(
    target.nics.map((nic) => [nic.network, nic.address, nic.assigned]),
    [['lan', '10.10.0.10', 'static']],
  );
  assert.match(JSON.stringify(spec.vms[1]!.provision), /http:\/\/10\.10\.0\.10\//, 'the briefing names the address');
  const lines = matrixLines(spec);
  for (const expected of [
    'attacker>target@10.10.0.10/tcp:80 reach rule',
    'attacker>target@10.10.0.10/tcp:22 reach rule',
    'target>attacker@10.10.0.100/tcp:80 blocked same-network',
    'attacker>target@10.10.0.10/tcp:443 blocked same-network',
    'attacker>outside@203.0.113.10/tcp:80 blocked egress',
  ]) {
    assert.ok(lines.includes(expected), `${expected} in\n${lines.join('\n')}`);
  }
});

test('network-forensics: the sensor is on both networks and routes the workstations to the web server', () => {
  const spec = catalogSpec('network-forensics');
  const [sensor, web, workstation] = labAddressing(spec).vms;
  assert.deepEqual(
    sensor?.nics.map((nic) => `net${nic.nic}=${nic.network}:${nic.address}`),
    ['net0=clients:10.30.0.5', 'net1=servers:10.31.0.5'],
  );
  assert.deepEqual(sensor?.routerFor, ['clients', 'servers']);
  assert.deepEqual(
    web?.routes.map((route) => `${route.to} via ${route.via}`),
    ['10.30.0.0/24 via 10.31.0.5'],
  );
  assert.deepEqual(
    workstation?.routes.map((route) => `${route.to} via ${route.via}`),
    ['10.31.0.0/24 via 10.30.0.5'],
  );
  const lines = matrixLines(spec);
  assert.ok(lines.includes('workstation-1>web@10.31.0.10/tcp:80 reach rule'), lines.join('\n'));
  assert.ok(lines.includes('workstation-1>web@10.31.0.10/tcp:22 blocked default-deny'), lines.join('\n'));
});

test('ad-basics: domain members reach the DC on its domain services, and nothing of each other', () => {
  const lines = matrixLines(catalogSpec('ad-basics'));
  for (const expected of [
    'ws>dc@10.20.0.10/tcp:88 reach rule',
    'ws>dc@10.20.0.10/udp:53 reach rule',
    'ws>dc@10.20.0.10/tcp:445 reach rule',
    'ws>dc@10.20.0.10/tcp:389 reach rule',
    'ws>dc@10.20.0.10/tcp:22 blocked same-network',
  ]) {
    assert.ok(lines.includes(expected), `${expected} in\n${lines.join('\n')}`);
  }
  // The DC opens nothing towards the members: even a port it serves is closed the other way.
  assert.ok(lines.includes('dc>ws@10.20.0.21/tcp:53 blocked same-network'), lines.join('\n'));
});
