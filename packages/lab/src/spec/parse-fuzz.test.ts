import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileLabFirewall } from '../firewall/compile';
import { pveRuleProblems } from '../firewall/limits';
import { compileLabGraph } from '../graph/compile';
import { readyAfter, rootTasks } from '../graph/queries';
import { labAddressing } from '../network/addressing';
import { reachabilityMatrix } from '../reachability/matrix';
import { ED25519_KEY } from '../test-fixtures';
import { overlaps, parseCidr } from './ipv4';
import { OS_NAMES } from './os-profiles';
import { parseLabSpec } from './parse';

// Bounded runs: enough to find the crashes fuzzing is for, cheap on a shared machine.
const RUNS = { numRuns: 300 };
// A guard against a hang, not a timing assertion: a hung parse fails the test instead of the suite.
const GUARD = { timeout: 120_000 };

type Result = ReturnType<typeof parseLabSpec>;

/** The contract: a result, never an exception; a rejection carries issues with well-formed paths. */
function assertWellFormed(result: Result): void {
  if (result.ok) return;
  assert.ok(result.issues.length > 0);
  for (const issue of result.issues) {
    assert.ok(Array.isArray(issue.path));
    assert.ok(issue.path.every((key) => typeof key === 'string' || (Number.isInteger(key) && key >= 0)));
    assert.equal(typeof issue.message, 'string');
    assert.ok(issue.message.length > 0);
  }
}

/** Every issue's path, but its last key, leads to something that is really in the input. */
function assertPathsPointIntoInput(input: unknown, result: Result): void {
  if (result.ok) return;
  for (const issue of result.issues) {
    let node: unknown = input;
    for (const key of issue.path.slice(0, -1)) {
      assert.ok(node !== null && typeof node === 'object' && Object.hasOwn(node, key), JSON.stringify(issue));
      node = (node as Record<string | number, unknown>)[key];
    }
  }
}

test('any string, read as YAML or as JSON, gives a result', GUARD, () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), fc.constantFrom('yaml', 'json'), (text, type) => {
      assertWellFormed(parseLabSpec(text, { contentType: type as 'yaml' | 'json' }));
    }),
    RUNS,
  );
});

test('YAML-looking fragments (anchors, merges, flow and block syntax) give a result', GUARD, () => {
  const fragment = fc.constantFrom(
    'name: lab\n',
    'vms:\n',
    '  - ',
    '{',
    '}',
    '[',
    ']',
    '&a ',
    '*a ',
    '<<: ',
    ': ',
    '\n',
    '  ',
    'os: kali\n',
    'networks: [lan]\n',
    '"',
    "'",
    '!!str ',
    '!!binary ',
    '# c\n',
    '---\n',
    '? ',
    '|\n',
    '\t',
  );
  fc.assert(
    fc.property(fc.array(fragment, { maxLength: 80 }), (parts) => assertWellFormed(parseLabSpec(parts.join('')))),
    RUNS,
  );
});

test('any value at all gives a result', GUARD, () => {
  const anything = fc.anything({
    maxDepth: 4,
    withNullPrototype: true,
    withMap: true,
    withSet: true,
    withBigInt: true,
    withDate: true,
    withTypedArray: true,
    withSparseArray: true,
    withBoxedValues: true,
  });
  fc.assert(
    fc.property(anything, (value) => assertWellFormed(parseLabSpec(value))),
    RUNS,
  );
});

const vmNames = fc.constantFrom('a', 'b', 'c', 'web', 'web-1', 'Bad_Name', '');
const networkNames = fc.constantFrom('lan', 'dmz', 'wan', 'LAN');
const address = fc.oneof(fc.ipV4(), fc.constantFrom('10.10.0.5', '10.10.0.1', '10.10.0.255', '10.10.0.05', 'x'));

const portEntry = fc.oneof(
  fc.constantFrom('tcp/80', 'udp/53', 'icmp', 'tcp/8000-8100', 'tcp/90-80', 'tcp/0', 'sctp/1', 'tcp/080', 80),
  fc
    .tuple(fc.constantFrom('tcp', 'udp'), fc.integer({ min: -1, max: 70000 }))
    .map(([proto, port]) => `${proto}/${port}`),
);
const egressEntry = fc.oneof(
  fc.constantFrom('203.0.113.5:443', 'udp/198.51.100.53:53', '0.0.0.0/0:80', 'icmp/203.0.113.0/24', '10.0.0.1:22'),
  fc.constantFrom('203.0.113.5', 'icmp/1.2.3.4:8', 'example.com:443', '1.2.3.4/8:80', '203.0.113.5:9-8'),
  fc
    .tuple(fc.ipV4(), fc.integer({ min: 0, max: 33 }), fc.integer({ min: 0, max: 70000 }))
    .map(([ip, prefix, port]) => `${ip}/${prefix}:${port}`),
);

const nearlyValidVm = fc.record(
  {
    name: vmNames,
    os: fc.oneof(fc.constantFrom(...OS_NAMES), fc.string({ maxLength: 12 })),
    template: fc.oneof(fc.integer(), fc.string({ maxLength: 10 })),
    cpus: fc.oneof(fc.integer({ min: -2, max: 70 }), fc.double()),
    memoryMiB: fc.integer({ min: 0, max: 300_000 }),
    diskGiB: fc.integer({ min: 0, max: 5000 }),
    count: fc.integer({ min: 0, max: 6 }),
    networks: fc.array(fc.oneof(networkNames, fc.record({ name: networkNames, ip: address })), { maxLength: 3 }),
    cloudInit: fc.record(
      {
        user: fc.oneof(fc.constant('trainee'), fc.string({ maxLength: 8 })),
        sshKeys: fc.array(fc.constantFrom(ED25519_KEY, 'ssh-ed25519 AAAA junk'), { maxLength: 2 }),
        packages: fc.array(fc.constantFrom('nginx', 'Bad Package'), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    provision: fc.array(
      fc.oneof(
        fc.record({ run: fc.string({ maxLength: 20 }) }),
        fc.record({ file: fc.record({ path: fc.constantFrom('/etc/x', 'x', '/a/../b'), content: fc.string() }) }),
        fc.anything({ maxDepth: 2 }),
      ),
      { maxLength: 3 },
    ),
    dependsOn: fc.array(vmNames, { maxLength: 3 }),
    surprise: fc.anything({ maxDepth: 1 }),
  },
  { requiredKeys: ['name', 'networks'] },
);

const nearlyValidSpec = fc.record(
  {
    name: vmNames,
    ttl: fc.constantFrom('8h', '0h', '30m', '9999d', 8),
    copies: fc.integer({ min: 0, max: 40 }),
    onFailure: fc.constantFrom('fail', 'keep', 'maybe'),
    networks: fc.array(
      fc.record(
        {
          name: networkNames,
          cidr: fc.oneof(
            fc.constantFrom('10.10.0.0/24', '10.10.0.0/16', '10.20.0.0/29', '10.10.0.5/24', 'x'),
            fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 40 })).map(([ip, prefix]) => `${ip}/${prefix}`),
          ),
          egress: fc.oneof(
            fc.constantFrom('allow', 'deny', 'sometimes', []),
            fc.array(egressEntry, { minLength: 1, maxLength: 3 }),
          ),
          gateway: address,
          intra: fc.constantFrom('allow', 'deny', 'maybe'),
        },
        { requiredKeys: ['name', 'cidr'] },
      ),
      { maxLength: 3 },
    ),
    rules: fc.array(
      fc.record(
        {
          from: fc.oneof(vmNames, networkNames),
          to: fc.oneof(vmNames, networkNames),
          ports: fc.array(portEntry, { maxLength: 3 }),
          surprise: fc.anything({ maxDepth: 1 }),
        },
        { requiredKeys: ['from', 'to', 'ports'] },
      ),
      { maxLength: 3 },
    ),
    vms: fc.array(nearlyValidVm, { maxLength: 5 }),
  },
  { requiredKeys: ['name', 'vms'] },
);

test('spec-shaped input with mistakes anywhere: a result whose paths point into the input', GUARD, () => {
  fc.assert(
    fc.property(nearlyValidSpec, (spec) => {
      const result = parseLabSpec(spec);
      assertWellFormed(result);
      assertPathsPointIntoInput(spec, result);
      if (!result.ok) return;
      // Whatever validation accepts, the network side can address, compile and probe.
      assert.ok(compileLabGraph(result.spec).tasks.length > 0);
      assert.ok(labAddressing(result.spec).vms.length > 0);
      const context = { management: { sources: ['192.0.2.1'], guestCidr: '192.0.2.0/24' } };
      const management = parseCidr(context.management.guestCidr)!;
      if (result.spec.networks.some((network) => overlaps(parseCidr(network.cidr)!, management))) return;
      const firewall = compileLabFirewall(result.spec, context);
      assert.ok(firewall.vms.every((vm) => vm.rules.every((rule) => pveRuleProblems(rule).length === 0)));
      reachabilityMatrix(result.spec);
    }),
    RUNS,
  );
});

/** Kahn's algorithm, written independently of the package's own cycle finder. */
function isAcyclic(dependsOn: Map<string, string[]>): boolean {
  const left = new Map(dependsOn);
  let progress = true;
  while (progress) {
    progress = false;
    for (const [name, deps] of left) {
      if (deps.every((dep) => !left.has(dep))) {
        left.delete(name);
        progress = true;
      }
    }
  }
  return left.size === 0;
}

const validShapedDependencies = fc
  .uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { minLength: 1, maxLength: 6 })
  .chain((names) =>
    fc.tuple(
      fc.constant(names),
      fc.array(fc.subarray(names, { maxLength: Math.min(3, names.length) }), {
        minLength: names.length,
        maxLength: names.length,
      }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: names.length, maxLength: names.length }),
      fc.integer({ min: 1, max: 3 }),
    ),
  );

test('a spec is accepted exactly when its dependsOn graph is acyclic, and then deploys in a valid order', GUARD, () => {
  fc.assert(
    fc.property(validShapedDependencies, ([names, dependsOn, counts, copies]) => {
      const spec = {
        name: 'fuzz',
        copies,
        networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
        vms: names.map((name, index) => ({
          name,
          os: 'debian-12',
          count: counts[index],
          networks: ['lan'],
          dependsOn: dependsOn[index],
        })),
      };
      const result = parseLabSpec(spec);
      const acyclic = isAcyclic(new Map(names.map((name, index) => [name, dependsOn[index]!])));
      assert.equal(result.ok, acyclic, JSON.stringify(!result.ok && result.issues));
      if (!result.ok) {
        assert.ok(result.issues.every((issue) => /^dependsOn cycle: /.test(issue.message)));
        return;
      }
      // Deploy it on paper: every task runs once, after all of its dependencies.
      const graph = compileLabGraph(result.spec);
      const done = new Set<string>();
      const queue = rootTasks(graph);
      while (queue.length > 0) {
        const task = queue.shift()!;
        assert.ok(task.dependsOn.every((id) => done.has(id)));
        done.add(task.id);
        queue.push(...readyAfter(graph, done, task.id));
      }
      assert.equal(done.size, graph.tasks.length);
    }),
    RUNS,
  );
});

test('hostile YAML and JSON: alias bombs and deep nesting are issues, not crashes', GUARD, () => {
  const laughs = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (const level of 'bcdefg') {
    const previous = String.fromCharCode(level.charCodeAt(0) - 1);
    laughs.push(`${level}: &${level} [${Array(9).fill(`*${previous}`).join(',')}]`);
  }
  const bomb = parseLabSpec(laughs.join('\n'));
  assert.ok(!bomb.ok && /alias/i.test(bomb.issues[0]!.message));
  const deep = `${'['.repeat(10000)}${']'.repeat(10000)}`;
  for (const contentType of ['yaml', 'json'] as const) {
    const result = parseLabSpec(deep, { contentType });
    assertWellFormed(result);
    assert.equal(result.ok, false);
  }
  const huge = parseLabSpec(`name: x\ndescription: ${'y'.repeat(4 * 1024 * 1024)}`);
  assert.ok(!huge.ok && /longer than/.test(huge.issues[0]!.message));
});
