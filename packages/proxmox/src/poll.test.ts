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

test('after a learned first look that found the wait unfinished, the next look comes at a fortieth of it', async () => {
  const looks = new FirstLooks();
  looks.record('task', 0, 1800, 2200);
  const began = Date.now();
  let checks = 0;
  // The policy's first interval (20 s) would put the second look past the deadline (6 s) and the
  // wait would fail; a fortieth of the first look (2 s) puts it 50 ms after the first, and this
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

test('after a learned first look misses, the looks keep their step through the span the last waits ended in, then grow', async () => {
  const looks = new FirstLooks();
  // Ends learned: 2000 ms, and a slow one at 9000 ms; the steady span is capped a quarter past 2000.
  looks.record('task', 0, 1900, 2100);
  looks.record('task', 0, 8900, 9100);
  const began = Date.now();
  const lookedAt: number[] = [];
  await pollUntil(
    async () => {
      lookedAt.push(Date.now() - began);
      return Date.now() - began >= 3_600 ? 'done' : undefined;
    },
    {
      what: 'a task',
      deadlineMs: 10_000,
      polling: { initialMs: 300, maxMs: 2000 },
      learned: { looks, kind: 'task' },
    },
  );
  assert.ok(lookedAt[0]! >= 1_990, `first look at the learned end (${lookedAt[0]} ms)`);
  // A 50 ms step up to 2500 ms: about ten looks, six at least on a loaded machine (growing by half
  // from the first, four).
  const steady = lookedAt.filter((ms) => ms < 2_500).length;
  assert.ok(steady >= 6, `looks before 2500 ms: ${steady} (${lookedAt.join(', ')})`);
  // Past 2500 ms (not 9000) they grow: 75, 113, 169, 253… ms apart.
  const after = lookedAt.filter((ms) => ms > 2_600);
  const gaps = after.slice(1).map((ms, index) => ms - after[index]!);
  assert.ok(
    gaps.some((gap) => gap >= 150),
    `the looks after 2600 ms grow apart: ${after.join(', ')}`,
  );
  assert.ok(lookedAt.length <= 22, `${lookedAt.length} looks`);
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

test('costly waits: nothing learned from a wait over at once; after one that missed, a few waits try earlier looks', () => {
  const looks = new FirstLooks();
  looks.costlyRecord(['agent pve01'], undefined, 0, undefined, 40);
  assert.equal(looks.costlyPlan('agent pve01'), undefined, 'a guest answering at once tells nothing of one booting');
  looks.costlyRecord(['agent pve01'], undefined, 0, 6750, 10_430);
  // Too soon at 6750, over at 10430: three tries at once, evenly between; the other waits at 10430.
  const tries = [1, 2, 3].map(() => looks.costlyPlan('agent pve01')!);
  assert.deepEqual(
    tries.map((plan) => plan.tryMs),
    [9510, 8590, 7670],
  );
  const other = looks.costlyPlan('agent pve01');
  assert.deepEqual(other, { kind: 'agent pve01' }, 'no more than three tries at once');
  assert.equal(looks.costlyDue(other, 'agent pve01'), 10_430);
  looks.costlyRecord(['agent pve01'], tries[1], 8590, undefined, 8590);
  assert.equal(looks.costlyDue(other, 'agent pve01'), 8590, 'a try found over is where every wait looks');
  assert.equal(looks.costlyDue(tries[0], 'agent pve01'), 8590, 'and a try after it looks then too');
  looks.costlyRecord(['agent pve01'], tries[2], 7670, 7670, 10_800);
  assert.equal(looks.costlyDue(other, 'agent pve01'), 8590, 'a try too soon moves nothing');
  looks.costlyRecord(['agent pve01'], tries[0], 8590, undefined, 8590);
  // 7670 too soon, 8590 over: still four steps apart, so three more tries between.
  const closer = [1, 2, 3].map(() => looks.costlyPlan('agent pve01')!);
  assert.deepEqual(
    closer.map((plan) => plan.tryMs),
    [8360, 8130, 7900],
  );
  looks.costlyRecord(['agent pve01'], closer[0], 8360, undefined, 8360);
  looks.costlyRecord(['agent pve01'], closer[1], 8130, undefined, 8130);
  looks.costlyRecord(['agent pve01'], closer[2], 7900, 7900, 10_950);
  // 7900 too soon, 8130 over: close, so one try now and then, after twice as many waits as before.
  for (let wait = 0; wait < 4; wait++) assert.deepEqual(looks.costlyPlan('agent pve01'), { kind: 'agent pve01' });
  assert.deepEqual(looks.costlyPlan('agent pve01'), { kind: 'agent pve01', tryMs: 7927 }, 'a step before');
  assert.equal(looks.costlyPlan('agent pve02'), undefined, 'each kind learns for itself');
});

test('costly waits: one that looked when the others do and found it unfinished moves their look four steps later', () => {
  const looks = new FirstLooks();
  looks.costlyRecord(['agent'], undefined, 0, 7700, 8000);
  const tried = looks.costlyPlan('agent')!;
  const atSafe = looks.costlyPlan('agent')!;
  looks.costlyRecord(['agent'], atSafe, 8000, 8000, 11_300);
  assert.equal(looks.costlyDue(atSafe, 'agent'), 8800, 'four fortieths later');
  assert.equal(looks.costlyDue(tried, 'agent'), 8800, 'a try at or before a look found too soon is dropped');
  looks.costlyAbandon(tried);
  assert.equal(
    looks.costlyPlan('agent')!.tryMs,
    8533,
    'others try once the trying wait is gone: a third of the way down',
  );
});

test('a costly wait looks when its kind is due by the time the look comes, not as planned when it began', async () => {
  const looks = new FirstLooks();
  looks.costlyRecord(['agent'], undefined, 0, 100, 200);
  looks.costlyPlan('agent');
  const began = Date.now();
  const lookedAt: number[] = [];
  const waiting = pollUntil(
    async () => {
      lookedAt.push(Date.now() - began);
      return Date.now() - began >= 300 ? 'up' : undefined;
    },
    {
      what: 'an agent',
      deadlineMs: 5_000,
      polling: { initialMs: 50, maxMs: 1000 },
      learned: { looks, kind: 'agent', costlyMiss: true },
    },
  );
  // Meanwhile another wait looked at 300 ms, found it unfinished and was over at 600: due at 380.
  looks.costlyRecord(['agent'], { kind: 'agent' }, 300, 300, 600);
  assert.equal(await waiting, 'up');
  assert.equal(lookedAt.length, 1, `looked at ${lookedAt.join(', ')} ms`);
  assert.ok(lookedAt[0]! >= 300, `first look at ${lookedAt[0]} ms`);
});

test('a costly wait asleep until its look is due looks sooner when a try found the end sooner', async () => {
  const looks = new FirstLooks();
  looks.costlyRecord(['agent'], undefined, 0, 100, 1000);
  const tries = [1, 2, 3].map(() => looks.costlyPlan('agent')!);
  assert.ok(tries.every((plan) => plan.tryMs !== undefined));
  const began = Date.now();
  let firstLook: number | undefined;
  const waiting = pollUntil(
    async () => {
      firstLook ??= Date.now() - began;
      return 'up';
    },
    {
      what: 'an agent',
      deadlineMs: 5_000,
      polling: { initialMs: 50, maxMs: 1000 },
      learned: { looks, kind: 'agent', costlyMiss: true },
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(tries[2]!.tryMs, 325);
  looks.costlyRecord(['agent'], tries[2], 325, undefined, 325);
  assert.equal(await waiting, 'up');
  assert.ok(firstLook !== undefined && firstLook >= 325 && firstLook < 900, `first look at ${firstLook} ms`);
});

test('costly waits: once close, a try comes only after as many waits as a look too soon costs steps', () => {
  const looks = new FirstLooks();
  looks.costlyRecord(['agent'], undefined, 0, 7700, 8000, 3000);
  const tried = looks.costlyPlan('agent')!;
  assert.equal(tried.tryMs, 7800);
  // Too soon: 3000 ms lost against 200 ms a wait would have gained, and twice that after a miss.
  looks.costlyRecord(['agent'], tried, 7800, 7800, 10_800, 3000);
  for (let wait = 0; wait < 30; wait++) assert.equal(looks.costlyPlan('agent')!.tryMs, undefined, `wait ${wait}`);
  assert.equal(looks.costlyPlan('agent')!.tryMs, 7800);
});

test('a costly wait given `since` times its looks, and teaches its kind, from then rather than from its beginning', async () => {
  const looks = new FirstLooks();
  // Guests of this kind answered 300 ms after they were started; three other waits try earlier looks.
  looks.costlyRecord(['agent'], undefined, 0, 100, 300);
  assert.ok([1, 2, 3].every(() => looks.costlyPlan('agent')?.tryMs !== undefined));
  const called = Date.now();
  const since = called - 200;
  const lookedAt: number[] = [];
  const waiting = pollUntil(
    async () => {
      lookedAt.push(Date.now() - since);
      return lookedAt.length > 1 ? 'up' : undefined;
    },
    {
      what: 'an agent',
      deadlineMs: 5_000,
      polling: { initialMs: 50, maxMs: 1000 },
      learned: { looks, kind: 'agent', costlyMiss: true, since },
    },
  );
  assert.equal(await waiting, 'up');
  assert.ok(lookedAt[0]! >= 300 && lookedAt[0]! < 450, `first look ${lookedAt[0]} ms after the start`);
  // It looked when the others do and found it unfinished: their look moves to its end, from the start.
  const due = looks.costlyDue(undefined, 'agent');
  assert.ok(due >= lookedAt[1]! - 1 && due <= 380, `due ${due} ms after the start, over at ${lookedAt[1]}`);
});
