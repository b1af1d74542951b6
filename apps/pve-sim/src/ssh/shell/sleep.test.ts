import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins } from './builtins';
import { Shell } from './interpreter';
import { intervalSeconds, type PassTime, parseSleep, sleepCommand, timerTime } from './sleep';
import { VirtualFs } from './virtual-fs';

const TRY = "Try 'sleep --help' for more information.\n";

test('operands read as GNU sleep reads them: fractions, exponents, suffixes, infinity', () => {
  assert.equal(intervalSeconds('3'), 3);
  assert.equal(intervalSeconds('0.5'), 0.5);
  assert.equal(intervalSeconds('.25'), 0.25);
  assert.equal(intervalSeconds('2.'), 2);
  assert.equal(intervalSeconds('1e2'), 100);
  assert.equal(intervalSeconds('+4'), 4);
  assert.equal(intervalSeconds('1.5m'), 90);
  assert.equal(intervalSeconds('2h'), 7200);
  assert.equal(intervalSeconds('1d'), 86_400);
  assert.equal(intervalSeconds('7s'), 7);
  assert.equal(intervalSeconds('infinity'), Number.POSITIVE_INFINITY);
  assert.equal(intervalSeconds('inf'), Number.POSITIVE_INFINITY);
  for (const bad of ['', 'x', '5x', '1ms', '5M', '-1', 'nan', '1 ', '1.2.3', '0x']) {
    assert.equal(intervalSeconds(bad), undefined, bad);
  }
});

test('a command line sums its operands; bad ones are each named, with status 1', () => {
  assert.deepEqual(parseSleep(['sleep', '1', '0.5m', '2']), { seconds: 33 });
  assert.deepEqual(parseSleep(['sleep']), { stderr: `sleep: missing operand\n${TRY}`, code: 1 });
  assert.deepEqual(parseSleep(['sleep', 'soon', '1', '2x']), {
    stderr: `sleep: invalid time interval 'soon'\nsleep: invalid time interval '2x'\n${TRY}`,
    code: 1,
  });
  // getopt sees a leading dash as an option; after `--` a negative number is an operand, and refused.
  assert.deepEqual(parseSleep(['sleep', '-1']), { stderr: `sleep: invalid option -- '1'\n${TRY}`, code: 1 });
  assert.deepEqual(parseSleep(['sleep', '1', '--now']), {
    stderr: `sleep: unrecognized option '--now'\n${TRY}`,
    code: 1,
  });
  assert.deepEqual(parseSleep(['sleep', '--', '-1']), { stderr: `sleep: invalid time interval '-1'\n${TRY}`, code: 1 });
  assert.deepEqual(parseSleep(['sleep', '--']), { seconds: 0 });
  assert.match(
    String((parseSleep(['sleep', '--help']) as { stdout: string }).stdout),
    /^Usage: sleep NUMBER\[SUFFIX\]/,
  );
  // Debian 12's coreutils, as on a Proxmox VE 8 host.
  assert.match(
    String((parseSleep(['sleep', '--version']) as { stdout: string }).stdout),
    /^sleep \(GNU coreutils\) 9\.1\n/,
  );
});

test('the first option anywhere before `--` decides alone, as getopt_long permuting finds it', () => {
  const help = parseSleep(['sleep', '--help']);
  const version = parseSleep(['sleep', '--version']);
  // After an operand, after a bad operand, abbreviated, and ahead of a second option: all help.
  for (const line of [['5', '--help'], ['soon', '--help'], ['--he'], ['--h', '-x'], ['1', '--help', '--version']]) {
    assert.deepEqual(parseSleep(['sleep', ...line]), help, line.join(' '));
  }
  assert.deepEqual(parseSleep(['sleep', '5', '--v']), version);
  // The first option is a bad one: refused, whatever follows.
  assert.deepEqual(parseSleep(['sleep', '5', '-x', '--help']), {
    stderr: `sleep: invalid option -- 'x'\n${TRY}`,
    code: 1,
  });
  assert.deepEqual(parseSleep(['sleep', '--help=now']), {
    stderr: `sleep: option '--help' doesn't allow an argument\n${TRY}`,
    code: 1,
  });
  assert.deepEqual(parseSleep(['sleep', '--he=now']), {
    stderr: `sleep: option '--help' doesn't allow an argument\n${TRY}`,
    code: 1,
  });
  // After `--` it is an operand like any other.
  assert.deepEqual(parseSleep(['sleep', '1', '--', '--help']), {
    stderr: `sleep: invalid time interval '--help'\n${TRY}`,
    code: 1,
  });
});

/** A scheduler that runs nothing by itself: the test fires or inspects its timers. */
function manualTimers() {
  const pending = new Map<number, { ms: number; fn: () => void }>();
  let next = 0;
  const scheduled: number[] = [];
  const schedule = (ms: number, fn: () => void) => {
    const id = next++;
    pending.set(id, { ms, fn });
    scheduled.push(ms);
    return () => pending.delete(id);
  };
  const fireAll = () => {
    for (const [id, timer] of [...pending]) {
      pending.delete(id);
      timer.fn();
    }
  };
  return { schedule, pending, scheduled, fireAll };
}

test('time passes scaled, in timers no longer than Node allows, and a signal clears the one pending', async () => {
  const timers = manualTimers();
  const pass = timerTime(timers.schedule, 0.01);
  let done = false;
  const waiting = pass(20_000, new AbortController().signal).then(() => (done = true));
  assert.deepEqual(timers.scheduled, [200]);
  await Promise.resolve();
  assert.equal(done, false);
  timers.fireAll();
  await waiting;
  assert.equal(done, true);

  // 30 days at scale 1 is more than one timer holds: it is taken in two.
  const long = timerTime(timers.schedule, 1);
  timers.scheduled.length = 0;
  const month = long(30 * 86_400_000, new AbortController().signal);
  timers.fireAll();
  timers.fireAll();
  await month;
  assert.deepEqual(timers.scheduled, [2 ** 31 - 1, 30 * 86_400_000 - (2 ** 31 - 1)]);

  const killer = new AbortController();
  const killed = pass(60_000, killer.signal);
  assert.equal(timers.pending.size, 1);
  killer.abort();
  await killed;
  assert.equal(timers.pending.size, 0, 'the aborted sleep left its timer behind');

  // `sleep infinity` schedules nothing; only its signal ends it.
  const forever = new AbortController();
  const endless = pass(Number.POSITIVE_INFINITY, forever.signal);
  assert.equal(timers.pending.size, 0);
  forever.abort();
  await endless;
});

/** A shell with the builtins, its `sleep` passing time as `pass` does (the builtin's real time if absent). */
function shellWith(pass: PassTime | undefined) {
  const fs = new VirtualFs();
  fs.mkdir('/root', { recursive: true });
  const commands = pass ? { ...builtins, sleep: sleepCommand(pass) } : builtins;
  const shell = new Shell({ fs, user: 'root', commands });
  const run = async (script: string, signal?: AbortSignal) => {
    let stdout = '';
    let stderr = '';
    const code = await shell.run(script, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      signal,
    });
    return { code, stdout, stderr };
  };
  return { fs, run };
}

test('the builtin sleep takes real time when the shell belongs to no simulator', async () => {
  const { run } = shellWith(undefined);
  const started = performance.now();
  assert.deepEqual(await run('sleep 0.05'), { code: 0, stdout: '', stderr: '' });
  const took = performance.now() - started;
  assert.ok(took >= 45, `sleep 0.05 took ${took} ms`);
  assert.deepEqual(await run('sleep 1x; echo $?'), {
    code: 0,
    stdout: '1\n',
    stderr: `sleep: invalid time interval '1x'\n${TRY}`,
  });
});

test('a killed shell stops in its sleep and runs nothing after it, in subshells and loops too', async () => {
  const timers = manualTimers();
  const { fs, run } = shellWith(timerTime(timers.schedule));
  for (const script of [
    'sleep 10; echo after > /root/after',
    "sh -c 'sleep 10'; echo after > /root/after",
    'for n in 1 2 3; do sleep 1; echo $n >> /root/after; done',
    'sleep 5 & wait; echo after > /root/after',
  ]) {
    const killer = new AbortController();
    const running = run(script, killer.signal);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(timers.pending.size, 1, script);
    killer.abort();
    const result = await running;
    assert.equal(result.code, 137, script);
    assert.equal(fs.stat('/root/after'), undefined, script);
    assert.equal(timers.pending.size, 0, script);
  }
});
