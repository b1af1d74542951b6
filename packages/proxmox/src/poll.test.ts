import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FirstLooks, pollUntil } from './poll';

test('a first look that found the wait over comes a tenth earlier next time; one that did not, later', () => {
  const looks = new FirstLooks();
  assert.equal(looks.delay('task pve01 qmstart', 150), 150, 'nothing learned yet');
  looks.record('task pve01 qmstart', 150, undefined, 150);
  assert.equal(looks.delay('task pve01 qmstart', 150), 135);
  looks.record('task pve01 qmstart', 135, 900, 1100);
  assert.equal(looks.delay('task pve01 qmstart', 150), 270, 'at most twice as late at once');
  looks.record('task pve01 qmstart', 270, 600, 1000);
  assert.equal(looks.delay('task pve01 qmstart', 150), 540);
  looks.record('task pve01 qmstart', 540, 600, 1000);
  assert.equal(looks.delay('task pve01 qmstart', 150), 800, 'in the middle of the span in which it ended');
  looks.record('task pve01 qmstart', 800, 800, 1000);
  assert.equal(looks.delay('task pve01 qmstart', 150), 1040, 'three tenths later');
  looks.record('agent pve01', 0, 0, 480);
  assert.equal(looks.delay('agent pve01', 0), 240, 'a first look at once learns the middle of the span');
  assert.equal(looks.delay('task pve02 qmstart', 150), 150, 'each kind learns for itself');
});

test('waits of one kind come to end at their first look, not long after they are over', async () => {
  const looks = new FirstLooks();
  const durationMs = 200;
  const checksPerWait: number[] = [];
  for (let wait = 0; wait < 10; wait++) {
    const began = Date.now();
    let checks = 0;
    await pollUntil(
      async () => {
        checks++;
        return Date.now() - began >= durationMs ? 'done' : undefined;
      },
      {
        what: 'a task',
        deadlineMs: 10_000,
        polling: { initialMs: 40, maxMs: 1000 },
        firstDelayMs: 20,
        learned: { looks, kind: 'task' },
      },
    );
    checksPerWait.push(checks);
  }
  assert.ok(checksPerWait[0]! >= 3, `the first wait looked ${checksPerWait[0]} times`);
  // From its fixed schedule alone (20, 60, 120, 210 ms) every wait would take 4 looks.
  const lastFive = checksPerWait.slice(-5).reduce((sum, checks) => sum + checks, 0);
  assert.ok(lastFive <= 8, `checks per wait: ${checksPerWait.join(', ')}`);
  // A first look that came too early moves the next three tenths on, or into the span in which the
  // wait ended: never far past the task's end.
  assert.ok(looks.delay('task', 20) <= durationMs * 1.5, `first look at ${looks.delay('task', 20)} ms`);
});
