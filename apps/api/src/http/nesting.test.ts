import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDepth, yamlDepth } from './nesting';

test('JSON depth counts brackets and braces outside strings', () => {
  assert.equal(jsonDepth('{"a": [1, {"b": "[[[[["}]}'), 3);
  assert.equal(jsonDepth('"\\"[[["'), 0);
  assert.equal(jsonDepth('['.repeat(1_000_000), 64), 65, 'stops counting past the limit');
});

test('YAML depth counts block levels, compact entries and flow collections', () => {
  const spec = [
    'name: lab',
    'networks:',
    '  - name: lan',
    '    cidr: 10.0.0.0/24',
    'vms:',
    '  - name: a',
    '    provision:',
    "      - run: echo '[[[['   # a comment [[[",
    '    networks: [lan]',
  ].join('\n');
  assert.ok(yamlDepth(spec) <= 6, String(yamlDepth(spec)));
  assert.ok(yamlDepth('- '.repeat(200)) > 64);
  assert.ok(yamlDepth(Array.from({ length: 100 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')) > 64);
  assert.ok(yamlDepth('['.repeat(1_000_000), 64) > 64);
  assert.ok(yamlDepth('{a: '.repeat(100)) > 64);
});
