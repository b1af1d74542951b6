import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idsOnly } from './jobs';

test('job data is reduced to id fields with plain values', () => {
  assert.deepEqual(
    idsOnly({
      vmId: 'v',
      labId: 'l',
      taskId: 't',
      id: 3,
      password: 'x',
      token: 'y',
      nestedId: { secret: 1 },
      Idea: 'z',
    }),
    { vmId: 'v', labId: 'l', taskId: 't', id: 3 },
  );
  assert.deepEqual(idsOnly(null), {});
  assert.deepEqual(idsOnly('vmId'), {});
});
