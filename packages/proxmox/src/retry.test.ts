import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameterError, NotFoundError, TransientError } from './errors';
import { backoffDelay, isRetryable, type RetryPolicy, withRetry } from './retry';

const fast: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

test('backoff doubles its ceiling per attempt, capped, with jitter below the ceiling', () => {
  const policy: RetryPolicy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  const top = () => 0.999999;
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((attempt) => backoffDelay(policy, attempt, top)),
    [99, 199, 399, 799, 999],
  );
  assert.equal(
    backoffDelay(policy, 3, () => 0),
    0,
  );
});

test('transient errors are retried up to the bound, then the last error surfaces', async () => {
  let calls = 0;
  const retries: number[] = [];
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new TransientError(`busy ${calls}`);
      },
      { policy: fast, idempotent: true, onRetry: (_error, attempt) => retries.push(attempt) },
    ),
    /busy 4/,
  );
  assert.equal(calls, 4);
  assert.deepEqual(retries, [1, 2, 3]);
});

test('a transient error followed by success returns the success', async () => {
  let calls = 0;
  const value = await withRetry(
    async () => {
      calls++;
      if (calls < 3) throw new TransientError('got timeout');
      return 'done';
    },
    { policy: fast, idempotent: false },
  );
  assert.equal(value, 'done');
  assert.equal(calls, 3);
});

test('permanent errors are never retried', async () => {
  for (const error of [new NotFoundError('gone'), new InvalidParameterError('bad'), new Error('plain')]) {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw error;
        },
        { policy: fast, idempotent: true },
      ),
    );
    assert.equal(calls, 1, error.message);
  }
});

test('a non-idempotent call is not repeated when the request may already have been applied', () => {
  const maybe = new TransientError('596 Connection timed out', { maybeApplied: true });
  const certainlyNot = new TransientError('595 Connection refused', { maybeApplied: false });
  assert.equal(isRetryable(maybe, true), true);
  assert.equal(isRetryable(maybe, false), false);
  assert.equal(isRetryable(certainlyNot, false), true);
});
