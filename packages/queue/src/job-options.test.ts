import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobOptions } from './producer';

test('a finished job is kept as its catalog entry says, else a week (completed) or 30 days (failed)', () => {
  assert.deepEqual(
    [jobOptions('vm.deploy').removeOnComplete, jobOptions('vm.deploy').removeOnFail],
    [{ age: 7 * 24 * 3600, count: 10_000 }, { age: 30 * 24 * 3600 }],
  );
  assert.deepEqual(
    [jobOptions('firewall.status').removeOnComplete, jobOptions('firewall.status').removeOnFail],
    [{ age: 60, count: 10_000 }, { age: 60 }],
  );
});
