import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { arbitraryLabSpec } from '../test-arbitraries';
import { ruleHasPath, rulePaths } from './rule-paths';
import { labTopology } from './topology';

test('checking one instance per entry finds a path exactly when the full expansion has one', () => {
  const withRules = arbitraryLabSpec.chain((spec) => {
    const names = [...spec.networks.map((network) => network.name), ...spec.vms.map((vm) => vm.name)];
    const rule = fc.record({
      from: fc.constantFrom(...names),
      to: fc.constantFrom(...names),
      ports: fc.constant<string[]>(['tcp/1']),
    });
    return fc.tuple(fc.constant(spec), fc.array(rule, { minLength: 1, maxLength: 6 }));
  });
  fc.assert(
    fc.property(withRules, ([spec, rules]) => {
      const topology = labTopology(spec);
      for (const rule of [...spec.rules, ...rules]) {
        assert.equal(ruleHasPath(topology, rule), rulePaths(topology, rule).length > 0, JSON.stringify(rule));
      }
    }),
    { numRuns: 200 },
  );
});

test('paths: direct on a shared network, routed through the router, none without a way back', () => {
  const spec = {
    name: 'paths',
    ttl: '8h',
    ttlSeconds: 28800,
    copies: 1,
    onFailure: 'fail' as const,
    networks: [
      { name: 'a', cidr: '10.1.0.0/24', egress: 'deny' as const, intra: 'allow' as const, gateway: '10.1.0.1' },
      { name: 'b', cidr: '10.2.0.0/24', egress: 'deny' as const, intra: 'allow' as const },
    ],
    rules: [],
    vms: [
      {
        name: 'r',
        networks: [
          { name: 'a', ip: '10.1.0.1' },
          { name: 'b', ip: '10.2.0.1' },
        ],
      },
      { name: 'x', networks: [{ name: 'a' }] },
      { name: 'y', networks: [{ name: 'b' }] },
    ].map((vm) => ({
      ...vm,
      os: 'debian-12' as const,
      cpus: 1,
      memoryMiB: 1024,
      diskGiB: 8,
      cloudInit: { user: 'debian', sshKeys: [], packages: [], runcmd: [] },
      provision: [],
      dependsOn: [],
    })),
  };
  const topology = labTopology(spec);
  // x routes to b through r; y has no route back to a (b has no gateway), so x cannot reach y.
  assert.deepEqual(rulePaths(topology, { from: 'x', to: 'y', ports: ['tcp/1'] }), []);
  const toRouter = rulePaths(topology, { from: 'x', to: 'r', ports: ['tcp/1'] });
  assert.deepEqual(
    toRouter.map((path) => [path.destinationNetwork, path.hop.router ?? 'direct']),
    [
      ['a', 'direct'],
      ['b', 'r'],
    ],
    "x reaches both of r's addresses: a directly, b through r itself",
  );
});
