import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '@glassdome/db';
import type { Producer } from '@glassdome/queue';
import { createMetrics } from './metrics';

/** Times the main thread went to sleep and woke up again so far (Linux). */
function wakeups(): number {
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]);
}

test('the metrics leave an idle API asleep: the event-loop delay sampler wakes it about 10 times a second, not 100', {
  skip: !existsSync(`/proc/self/task/${process.pid}/status`) && 'needs Linux /proc',
}, async () => {
  // Nothing is scraped here, so the database and Redis are never asked.
  const metrics = createMetrics({} as Db, {} as Producer);
  assert.ok(metrics.registry.getSingleMetric('nodejs_eventloop_lag_p99_seconds'));
  await sleep(100);
  const before = wakeups();
  await sleep(2_000);
  const perSecond = (wakeups() - before) / 2;
  assert.ok(perSecond < 40, `${perSecond} wakeups a second`);
});
