import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileLabGraph, LAB_CATALOG, parseLabSpec, parseStoredLabSpec, storedVmSpec } from '@glassdome/lab';
import { NotJsonError, toStoredJson } from './stored-json';

test('a stored structure becomes the JSON that JSON.stringify writes, and parses back', () => {
  for (const entry of LAB_CATALOG) {
    const parsed = parseLabSpec(entry.spec);
    assert.ok(parsed.ok, entry.id);
    const { spec } = parsed;
    for (const value of [spec, compileLabGraph(spec), storedVmSpec(spec.vms[0]!), entry.spec]) {
      assert.deepEqual(toStoredJson(value), JSON.parse(JSON.stringify(value)));
    }
    assert.deepEqual(parseStoredLabSpec(toStoredJson(spec)), spec);
  }
});

test('an absent optional field is left out; a value JSON cannot hold is an error naming where it is', () => {
  assert.deepEqual(toStoredJson({ name: 'a', description: undefined }), { name: 'a' });
  assert.throws(() => toStoredJson({ vms: [{ cpus: Number.NaN }] }), new NotJsonError('$.vms[0].cpus'));
  assert.throws(() => toStoredJson({ list: [1, undefined] }), new NotJsonError('$.list[1]'));
  assert.throws(() => toStoredJson({ at: new Date(0) }), new NotJsonError('$.at'));
  assert.throws(() => toStoredJson({ seen: new Map() }), new NotJsonError('$.seen'));
});

test('a key named __proto__ stays a key', () => {
  const decoded = JSON.parse('{"name":"a","__proto__":{"x":1}}') as Record<string, unknown>;
  const json = toStoredJson(decoded);
  assert.equal(JSON.stringify(json), '{"name":"a","__proto__":{"x":1}}');
});
