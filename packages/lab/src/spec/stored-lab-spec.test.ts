import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LAB_CATALOG } from '../catalog';
import { compileLabGraph } from '../graph/compile';
import { arbitraryLabSpec } from '../test-arbitraries';
import { parseLabSpec } from './parse';
import {
  parseSavedLabSpec,
  parseStoredLabGraph,
  parseStoredLabSource,
  parseStoredLabSpec,
  StoredSpecError,
} from './stored-lab-spec';
import { parseStoredVmSpec, storedVmSpec } from './stored-vm-spec';

/** What the jsonb column gives back. */
const throughJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

test('every catalog lab, deployed and stored, parses back to the same spec', () => {
  for (const entry of LAB_CATALOG) {
    const parsed = parseLabSpec(entry.spec);
    assert.ok(parsed.ok, entry.id);
    assert.deepEqual(parseStoredLabSpec(throughJson(parsed.spec)), parsed.spec, entry.id);
    const graph = compileLabGraph(parsed.spec);
    assert.deepEqual(parseStoredLabGraph(throughJson(graph)), graph, `${entry.id} graph`);
    for (const vm of parsed.spec.vms) {
      const stored = storedVmSpec(vm);
      assert.deepEqual(parseStoredVmSpec(throughJson(stored)), stored, `${entry.id} ${vm.name}`);
    }
  }
});

test('any valid lab spec, stored, parses back to the same spec', () => {
  fc.assert(
    fc.property(arbitraryLabSpec, (spec) => {
      assert.deepEqual(parseStoredLabSpec(throughJson(spec)), spec);
      const graph = compileLabGraph(spec);
      assert.deepEqual(parseStoredLabGraph(throughJson(graph)), graph);
    }),
    { numRuns: 200 },
  );
});

test('a row that does not hold a lab spec is an error naming the field, not a guess', () => {
  const parsed = parseLabSpec(LAB_CATALOG[0]!.spec);
  assert.ok(parsed.ok);
  const stored = throughJson(parsed.spec) as Record<string, unknown>;
  const { ttlSeconds: _dropped, ...missing } = stored;
  assert.throws(
    () => parseStoredLabSpec(missing),
    (error) => error instanceof StoredSpecError && /stored lab spec is invalid: ttlSeconds:/.test(error.message),
  );
  assert.throws(() => parseStoredLabSpec({ ...stored, extra: 1 }), StoredSpecError);
  assert.throws(() => parseStoredLabSpec({}), StoredSpecError);
  assert.throws(() => parseStoredLabSpec(null), StoredSpecError);
  assert.throws(
    () => parseStoredLabGraph({ tasks: [{ id: 'c0:x', kind: 'mystery', copy: 0, dependsOn: [] }] }),
    /stored lab graph is invalid: tasks\.0\.kind:/,
  );
});

test('a saved spec parses back as spec input; one that lost its shape comes back as issues', () => {
  const input = throughJson(LAB_CATALOG[0]!.spec);
  const saved = parseSavedLabSpec(input);
  assert.ok(saved.ok);
  const again = parseLabSpec(saved.spec);
  const direct = parseLabSpec(input);
  assert.ok(again.ok && direct.ok);
  assert.deepEqual(again.spec, direct.spec, 'the same lab deploys from it');
  const broken = parseSavedLabSpec({ name: 'x', vms: 'none' });
  assert.equal(broken.ok, false);
  assert.deepEqual(!broken.ok && broken.issues.map((issue) => issue.path.join('.')), ['vms']);
});

test("a pool's source parses as a template or a saved spec reference, nothing else", () => {
  assert.deepEqual(parseStoredLabSource({ template: 'web-pentest-101', parameters: { copies: 2 } }), {
    template: 'web-pentest-101',
    parameters: { copies: 2 },
  });
  assert.deepEqual(parseStoredLabSource({ spec: 'mine', version: 3 }), { spec: 'mine', version: 3 });
  assert.throws(() => parseStoredLabSource({ spec: 'mine', version: 0 }), StoredSpecError);
  assert.throws(() => parseStoredLabSource({ name: 'mine' }), StoredSpecError);
});
