import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stoppedBy, toldStopWatch, VmStoppedError, watchForStop } from './watch';

test('a reported stop aborts the signal with its reason; a failing check does not', async () => {
  let answer: () => Promise<Error | undefined> = () => Promise.reject(new Error('database away'));
  const watch = watchForStop(() => answer(), new AbortController().signal, 5);
  await sleep(30);
  assert.equal(watch.signal.aborted, false, 'an unanswered check is no reason to stop');
  answer = async () => new VmStoppedError('destroying');
  await sleep(30);
  assert.equal(watch.signal.aborted, true);
  assert.equal(stoppedBy(watch.signal, VmStoppedError)?.status, 'destroying');
  watch.stop();
});

test('a stop during shielded work waits for it to end; the parent signal does not', async () => {
  const parent = new AbortController();
  const watch = watchForStop(async () => new VmStoppedError('destroying'), parent.signal, 5);
  const during = await watch.shield(async () => {
    await sleep(40);
    return watch.signal.aborted;
  });
  assert.equal(during, false, 'the clone-like work ran to its end');
  assert.equal(watch.signal.aborted, true, 'and the stop took effect right after');

  const second = watchForStop(async () => undefined, parent.signal, 5);
  const shielded = second.shield(() => sleep(1_000).then(() => second.signal.aborted));
  parent.abort(new Error('shutdown'));
  assert.equal(second.signal.aborted, true, 'a shutdown is not deferred');
  await shielded;
  watch.stop();
  second.stop();
});

test('a told watch stops when told, after shielded work, and not once it was ended', async () => {
  const parent = new AbortController();
  const watch = toldStopWatch(parent.signal);
  const during = await watch.shield(async () => {
    watch.report(new VmStoppedError('destroying'));
    await sleep(5);
    return watch.signal.aborted;
  });
  assert.equal(during, false, 'the shielded work ran to its end');
  assert.equal(stoppedBy(watch.signal, VmStoppedError)?.status, 'destroying');

  const ended = toldStopWatch(parent.signal);
  ended.stop();
  ended.report(new VmStoppedError('destroying'));
  assert.equal(ended.signal.aborted, false, 'a stop told after the watch ended is ignored');
  const told = toldStopWatch(parent.signal);
  parent.abort(new Error('shutdown'));
  assert.equal(told.signal.aborted, true, 'the parent still aborts it');
});
