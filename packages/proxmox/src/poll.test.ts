import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FirstLooks, pollUntil } from './poll';

test('the first look comes at the soonest end of the last eight waits of its kind', () => {
  const looks = new FirstLooks();
  assert.equal(looks.learned('task pve01 qmstart'), undefined, 'nothing learned yet');
  looks.record('task pve01 qmstart', 400, undefined, 400);
  assert.equal(looks.learned('task pve01 qmstart'), 380, 'over at its first look: a twentieth before it');
  looks.record('task pve01 qmstart', 380, 380, 5000);
  assert.equal(looks.learned('task pve01 qmstart'), 380, 'one slow wait moves nothing');
  looks.record('task pve01 qmstart', 380, undefined, 380);
  assert.equal(looks.learned('task pve01 qmstart'), 361, 'each one over at its first look brings it earlier');
  for (let wait = 0; wait < 8; wait++) looks.record('task pve01 qmstart', 600, 600, 1000);
  assert.equal(looks.learned('task pve01 qmstart'), 800, 'the middle of the span; older waits forgotten');
  looks.record('agent pve01', 0, 0, 480);
  assert.equal(looks.learned('agent pve01'), 240, 'a first look at once learns the middle of the span');
  assert.equal(looks.learned('task pve02 qmstart'), undefined, 'each kind learns for itself');
});

test('a wait of a kind not seen yet takes its first look when waits like it ended, and teaches both', async () => {
  const looks = new FirstLooks();
  looks.record('task qmclone', 150, 300, 500);
  assert.equal(looks.learned('task pve02 qmclone'), undefined);
  assert.equal(looks.learned('task pve02 qmclone', 'task qmclone'), 400, 'until then, from waits like it');
  let checks = 0;
  await pollUntil(
    async () => {
      checks++;
      return 'done';
    },
    {
      what: 'a clone',
      deadlineMs: 10_000,
      polling: { initialMs: 300, maxMs: 2000 },
      firstDelayMs: 150,
      learned: { looks, kind: 'task pve02 qmclone', like: 'task qmclone' },
    },
  );
  assert.equal(checks, 1);
  // Over at a first look 400 ms in (the like kind's), not 150 ms (the default): a twentieth before.
  assert.equal(looks.learned('task pve02 qmclone'), 380);
  assert.equal(looks.learned('task qmclone'), 380, 'the soonest of 400 and 380');
});

test('after a learned first look that found the wait unfinished, the next look comes at a twentieth of it', async () => {
  const looks = new FirstLooks();
  looks.record('task', 0, 1800, 2200);
  const began = Date.now();
  let checks = 0;
  // The policy's first interval (20 s) would put the second look past the deadline (6 s) and the
  // wait would fail; a twentieth of the first look (2 s) puts it 100 ms after the first, and this
  // check answers any look made within 4 s.
  const result = await pollUntil(
    async () => {
      checks++;
      if (checks === 1) return undefined;
      return Date.now() - began < 4_000 ? 'done' : undefined;
    },
    {
      what: 'a task',
      deadlineMs: 6_000,
      polling: { initialMs: 20_000, maxMs: 20_000 },
      learned: { looks, kind: 'task' },
    },
  );
  assert.equal(result, 'done');
  assert.equal(checks, 2);
});

test('waits of one kind come to end at their first look, not long after they are over', async () => {
  const looks = new FirstLooks();
  const durationMs = 150;
  const checksPerWait: number[] = [];
  for (let wait = 0; wait < 16; wait++) {
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
  // From its fixed schedule alone (20, 60, 120, 210 ms) every wait would take 4 looks; learned, one
  // or two (one while the first look is at or past the end, two while it is just before it).
  const lastSix = checksPerWait.slice(-6).reduce((sum, checks) => sum + checks, 0);
  assert.ok(lastSix <= 12, `checks per wait: ${checksPerWait.join(', ')}`);
  // The first look stays at the short end of how long the waits took: never far past their end.
  const firstLook = looks.learned('task');
  assert.ok(firstLook !== undefined && firstLook <= durationMs * 1.5, `first look at ${firstLook} ms`);
});

test('with costly misses a first look over in time counts a hundredth before it; a miss the middle of its span', () => {
  const looks = new FirstLooks();
  looks.record('agent pve01', 0, 6750, 10_430, true);
  assert.equal(looks.learned('agent pve01'), 8590, 'the middle of the span, as for any wait');
  looks.record('agent pve01', 8590, undefined, 8590, true);
  assert.equal(looks.learned('agent pve01'), 8504, 'a hundredth before it');
  looks.record('task pve01 qmstart', 400, undefined, 400);
  assert.equal(looks.learned('task pve01 qmstart'), 380, 'without it, a twentieth');
});
