import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiRequestError, ApiUnreachableError, UsageError, WorkFailedError } from './errors';
import { describeError, formatProblems } from './format-error';

test('field problems read as one line, the first three listed and the rest counted', () => {
  assert.equal(formatProblems([{ path: 'vms.0.os', message: 'is unknown' }]), 'vms.0.os: is unknown');
  assert.equal(formatProblems([{ path: '', message: 'is not valid YAML' }]), 'is not valid YAML');
  const many = ['a', 'b', 'c', 'd', 'e'].map((path) => ({ path, message: 'is wrong' }));
  assert.equal(formatProblems(many), 'a: is wrong; b: is wrong; c: is wrong (and 2 more)');
});

test('an API rejection names each field, the status and the code; the request was at fault so exit 2', () => {
  const error = new ApiRequestError(400, 'invalid_request', 'the lab spec is invalid', [
    { path: 'vms.1.dependsOn.0', message: 'names no VM of this lab' },
  ]);
  assert.deepEqual(describeError(error), {
    line: 'error: the lab spec is invalid: vms.1.dependsOn.0: names no VM of this lab (HTTP 400 invalid_request)',
    exitCode: 2,
  });
});

test('exit codes follow what went wrong', () => {
  const codeOf = (error: unknown) => describeError(error).exitCode;
  assert.equal(codeOf(new ApiRequestError(404, 'not_found', 'lab not found')), 2);
  assert.equal(codeOf(new ApiRequestError(401, 'unauthorized', 'a valid API key is required')), 2);
  assert.equal(codeOf(new ApiRequestError(409, 'conflict', 'a ready lab cannot be cancelled')), 1);
  assert.equal(codeOf(new ApiRequestError(503, 'unavailable', 'Redis is unavailable')), 1);
  assert.equal(codeOf(new ApiUnreachableError('http://127.0.0.1:8001', 'ECONNREFUSED')), 3);
  assert.equal(codeOf(new UsageError('bad flag')), 2);
  assert.equal(codeOf(new WorkFailedError('lab ended failed')), 1);
  assert.equal(codeOf(new Error('a bug')), 1);
});

test('a multi-line message still prints as one line', () => {
  assert.equal(describeError(new UsageError('first\n  second\tthird')).line, 'error: first second third');
});
