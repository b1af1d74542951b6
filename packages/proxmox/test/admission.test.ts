/** Admission slots in the real Redis, shared by several Admission instances as by several machines. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisPrefix, type TestRedis } from '@glassdome/testkit';
import { Redis } from 'ioredis';
import { Admission, type AdmissionLimits, AdmissionTimeoutError } from '../src/index';

let testRedis: TestRedis;
const connections: Redis[] = [];
const admissions: Admission[] = [];

before(() => {
  testRedis = createRedisPrefix('proxmox-admission');
});

after(async () => {
  for (const admission of admissions) admission.close();
  await testRedis.cleanup();
  for (const connection of connections) connection.disconnect();
});

/** One Admission per simulated machine, each with its own Redis connection. */
function machines(count: number, limits: Partial<AdmissionLimits>): Admission[] {
  return Array.from({ length: count }, () => machine(limits).admission);
}

function machine(limits: Partial<AdmissionLimits>): { admission: Admission; redis: Redis } {
  const redis = new Redis(testRedis.url);
  connections.push(redis);
  const admission = new Admission({ redis, prefix: testRedis.prefix, limits });
  admissions.push(admission);
  return { admission, redis };
}

/** Counts how many `work` calls overlap at most. */
function concurrencyMeter() {
  let running = 0;
  let peak = 0;
  return {
    get peak() {
      return peak;
    },
    async work(ms = 20) {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
    },
  };
}

/** Holds a slot of the node until `release` is called; resolves once it holds it. */
async function holdSlot(admission: Admission, node: string) {
  let release!: () => void;
  let holding!: () => void;
  const holds = new Promise<void>((resolve) => (holding = resolve));
  const held = admission.withNodeSlot(node, () => {
    holding();
    return new Promise<void>((resolve) => (release = resolve));
  });
  await holds;
  return { held, release: () => release() };
}

/** How many callers wait in the node's line now (its Redis keys, as every machine sees them). */
async function waitingFor(node: string): Promise<number> {
  return connections[0]!.zcard(`${testRedis.prefix}:pve:node:${node}:line`);
}

async function untilWaiting(node: string, count: number): Promise<void> {
  for (let tries = 0; (await waitingFor(node)) < count; tries++) {
    if (tries > 500) throw new Error(`fewer than ${count} callers ever waited for ${node}`);
    await sleep(5);
  }
}

test('full clones of one (node, storage) never exceed the limit across machines, and reach it', async () => {
  const meter = concurrencyMeter();
  const fleet = machines(3, { fullClonesPerStorage: 2, operationsPerNode: 8 });
  await Promise.all(
    Array.from({ length: 12 }, (_, index) =>
      fleet[index % 3]!.withCloneSlot({ node: 'pve01', storage: 'local-lvm', full: true }, () => meter.work()),
    ),
  );
  assert.equal(meter.peak, 2);
});

test('operations per node are capped across storages; linked clones take only a node slot', async () => {
  const meter = concurrencyMeter();
  const fleet = machines(2, { fullClonesPerStorage: 10, operationsPerNode: 3 });
  await Promise.all(
    Array.from({ length: 12 }, (_, index) => {
      const admission = fleet[index % 2]!;
      if (index % 3 === 0) return admission.withNodeSlot('pve02', () => meter.work());
      return admission.withCloneSlot({ node: 'pve02', storage: `store-${index % 4}`, full: index % 2 === 0 }, () =>
        meter.work(),
      );
    }),
  );
  assert.equal(meter.peak, 3);
});

test("storage work (a disk resize) shares the (node, storage)'s slots with full clones and takes no node slot", async () => {
  const meter = concurrencyMeter();
  const fleet = machines(2, { fullClonesPerStorage: 2, operationsPerNode: 8 });
  await Promise.all(
    Array.from({ length: 12 }, (_, index) => {
      const admission = fleet[index % 2]!;
      if (index % 2 === 0) {
        return admission.withStorageSlot('pve09', 'local-lvm', () => meter.work(), undefined, 'resize');
      }
      return admission.withCloneSlot({ node: 'pve09', storage: 'local-lvm', full: true }, () => meter.work());
    }),
  );
  assert.equal(meter.peak, 2);
  // With the node's one slot held, storage work still runs; so does another storage's.
  const [one] = machines(1, { fullClonesPerStorage: 1, operationsPerNode: 1, acquireTimeoutMs: 200 });
  const { held, release } = await holdSlot(one!, 'pve10');
  await one!.withStorageSlot('pve10', 'local-lvm', () => sleep(10), undefined, 'resize');
  await one!.withStorageSlot('pve10', 'other', () => sleep(10), undefined, 'resize');
  release();
  await held;
  const storage = await one!.storageWaits('pve10', 'local-lvm');
  assert.deepEqual(Object.keys(storage.holds), ['resize']);
  assert.equal(storage.holds.resize!.count, 1);
  assert.equal((await one!.nodeWaits('pve10')).holds.resize, undefined);
  const shared = await fleet[0]!.storageWaits('pve09', 'local-lvm');
  assert.equal(shared.holds.resize!.count, 6);
  assert.equal(shared.holds.clone!.count, 6);
});

test('clones of a node are granted at most one per shortest clone hold / limit; other work passes them', async () => {
  const [one, two] = machines(2, { operationsPerNode: 4 });
  // The shortest clone hold on pve11 is 400 ms: clones are granted 100 ms apart at least.
  await one!.withCloneSlot({ node: 'pve11', storage: 'local-lvm', full: false }, () => sleep(400));
  const grants: { kind: string; at: number }[] = [];
  const began = Date.now();
  // Each clone holds its slot as long as the shortest one did (a shorter hold would shorten the gap).
  const work = (kind: string) => async () => {
    grants.push({ kind, at: Date.now() - began });
    await sleep(kind === 'clone' ? 400 : 20);
  };
  await Promise.all([
    ...Array.from({ length: 4 }, (_, index) =>
      (index % 2 ? one : two)!.withCloneSlot({ node: 'pve11', storage: 'local-lvm', full: false }, work('clone')),
    ),
    (async () => {
      await sleep(30);
      await two!.withNodeSlot('pve11', work('start'), undefined, 'start');
    })(),
  ]);
  const clones = grants.filter((g) => g.kind === 'clone').map((g) => g.at);
  assert.equal(clones.length, 4);
  for (let index = 1; index < clones.length; index++) {
    assert.ok(clones[index]! - clones[index - 1]! >= 90, `clone grants at ${clones.join(', ')} ms`);
  }
  // The start came after the clones were in line, with slots free: it did not wait for their turns.
  const start = grants.find((g) => g.kind === 'start')!.at;
  assert.ok(start < clones[2]!, `start at ${start} ms, clones at ${clones.join(', ')} ms`);
  assert.ok(clones.at(-1)! < 600, `the last clone's turn came when due (${clones.join(', ')} ms), not at a 2 s check`);
});

test("a cold node's clones are spaced by the assumed hold / limit until a clone hold is measured there", async () => {
  // No clone has ended on pve12 yet: an assumed hold of 600 ms spaces the first clones 150 ms apart.
  const [one, two] = machines(2, { operationsPerNode: 4, assumedCloneHoldMs: 600 });
  const began = Date.now();
  const grants: number[] = [];
  await Promise.all(
    Array.from({ length: 4 }, (_, index) =>
      (index % 2 ? one : two)!.withCloneSlot({ node: 'pve12', storage: 'local-lvm', full: false }, async () => {
        grants.push(Date.now() - began);
        // Every clone but the last holds on past the others' grants, so none of those learns a hold.
        await sleep(grants.length === 4 ? 10 : 700);
      }),
    ),
  );
  for (let index = 1; index < grants.length; index++) {
    assert.ok(grants[index]! - grants[index - 1]! >= 130, `cold clone grants at ${grants.join(', ')} ms`);
  }
  // Once a hold is measured (10 ms), it sets the spacing: 2.5 ms, so four more are granted at once.
  const next: number[] = [];
  const from = Date.now();
  await Promise.all(
    Array.from({ length: 4 }, () =>
      one!.withCloneSlot({ node: 'pve12', storage: 'local-lvm', full: false }, async () => {
        next.push(Date.now() - from);
        await sleep(50);
      }),
    ),
  );
  assert.ok(Math.max(...next) < 100, `warm clone grants at ${next.join(', ')} ms`);
});

test('a clone in line at its turn that found no slot free passes the spacing on from its turn, not its grant', async () => {
  const [one, two] = machines(2, { operationsPerNode: 3 });
  // The shortest clone hold on pve13 is 600 ms: clones are granted 200 ms apart at least.
  await one!.withCloneSlot({ node: 'pve13', storage: 'local-lvm', full: false }, () => sleep(600));
  // Two of the three slots are taken by other work, freed 380 ms and 500 ms from now.
  const x = await holdSlot(one!, 'pve13');
  const y = await holdSlot(two!, 'pve13');
  const began = Date.now();
  setTimeout(() => x.release(), 380);
  setTimeout(() => y.release(), 500);
  const grants: number[] = [];
  await Promise.all(
    Array.from({ length: 3 }, (_, index) =>
      (index % 2 ? one : two)!.withCloneSlot({ node: 'pve13', storage: 'local-lvm', full: false }, async () => {
        grants.push(Date.now() - began);
        // No hold shorter than 600 ms ends meanwhile (it would shorten the spacing).
        await sleep(700);
      }),
    ),
  );
  await Promise.all([x.held, y.held]);
  // The second clone's turn came at 200 ms with no slot free; it got the one freed at 380 ms. The
  // third one's turn counts from the second's (280 ms: half a gap before its grant), so it takes the
  // slot freed at 500 ms at once instead of waiting until 580 ms.
  assert.ok(grants[1]! >= 370, `clone grants at ${grants.join(', ')} ms`);
  assert.ok(grants[2]! - grants[1]! >= 90, `clone grants at ${grants.join(', ')} ms`);
  assert.ok(grants[2]! - grants[1]! < 170, `clone grants at ${grants.join(', ')} ms`);
});

/** When each of `count` clones on `node` was granted (ms from the first call), each holding its slot `holdMs`. */
async function cloneGrants(admission: Admission, node: string, count: number, holdMs: number): Promise<number[]> {
  const began = Date.now();
  const grants: number[] = [];
  await Promise.all(
    Array.from({ length: count }, () =>
      admission.withCloneSlot({ node, storage: 'local-lvm', full: false }, async () => {
        grants.push(Date.now() - began);
        await sleep(holdMs);
      }),
    ),
  );
  return grants;
}

test('a clone that failed sets no spacing: its short hold is counted, not taken as how long clones take', async () => {
  const [admission] = machines(1, { operationsPerNode: 4 });
  const spot = { node: 'pve15', storage: 'local-lvm', full: false };
  // The shortest clone hold on pve15 is 400 ms: clones are granted 100 ms apart at least.
  await admission!.withCloneSlot(spot, () => sleep(400));
  await assert.rejects(
    admission!.withCloneSlot(spot, async () => {
      throw new Error('clone refused');
    }),
    /clone refused/,
  );
  const grants = await cloneGrants(admission!, 'pve15', 3, 400);
  for (let index = 1; index < grants.length; index++) {
    assert.ok(grants[index]! - grants[index - 1]! >= 90, `clone grants at ${grants.join(', ')} ms`);
  }
  const holds = (await admission!.nodeWaits('pve15')).holds.clone!;
  assert.equal(holds.count, 5);
  assert.ok(holds.minMs >= 390, `shortest clone hold that went through: ${holds.minMs} ms`);
});

test('the clone spacing follows the shortest of the recent clone holds, not the shortest ever', async () => {
  const [admission] = machines(1, { operationsPerNode: 4 });
  // One quick clone (40 ms) spaces clones 10 ms apart; then eight take 400 ms each (the storage got
  // slower) and the quick one is no longer among the recent holds: 100 ms apart again.
  await cloneGrants(admission!, 'pve16', 1, 40);
  await cloneGrants(admission!, 'pve16', 8, 400);
  const grants = await cloneGrants(admission!, 'pve16', 3, 400);
  for (let index = 1; index < grants.length; index++) {
    assert.ok(grants[index]! - grants[index - 1]! >= 90, `clone grants at ${grants.join(', ')} ms`);
  }
  // The record of the slots' use still names the shortest clone of all.
  const holds = (await admission!.nodeWaits('pve16')).holds.clone!;
  assert.ok(holds.minMs >= 35 && holds.minMs < 100, `shortest clone hold ${holds.minMs} ms`);
});

test("in a node's line the clones of the next copies go before other work of an earlier copy", async () => {
  const [admission] = machines(1, { operationsPerNode: 1, assumedCloneHoldMs: 1, cloneLeadOrders: 9 });
  const { held, release } = await holdSlot(admission!, 'pve14');
  const order: string[] = [];
  const waiters: Promise<void>[] = [];
  const join = async (name: string, copy: number, clone: boolean) => {
    const view = admission!.withPriority(1_000, copy);
    const work = async () => void order.push(name);
    waiters.push(
      clone
        ? view.withCloneSlot({ node: 'pve14', storage: 'local-lvm', full: false }, work)
        : view.withNodeSlot('pve14', work, undefined, 'start'),
    );
    await untilWaiting('pve14', waiters.length);
  };
  await join('start of copy 0', 0, false);
  await join('clone of copy 20', 20, true);
  await join('clone of copy 5', 5, true);
  release();
  await Promise.all([held, ...waiters]);
  // The start ranks as copy 9: after the clone of copy 5, before the clone of copy 20.
  assert.deepEqual(order, ['clone of copy 5', 'start of copy 0', 'clone of copy 20']);
});

test('a slot is refreshed while held past its TTL, so nobody else gets in meanwhile', async () => {
  // The hold lasts several TTLs; the TTL is long enough that a loaded CI machine still refreshes in time.
  const [first, second] = machines(2, { operationsPerNode: 1, slotTtlMs: 400 });
  const events: string[] = [];
  const long = first!.withNodeSlot('pve03', async () => {
    events.push('first-start');
    await sleep(1500);
    events.push('first-end');
  });
  await sleep(20);
  const waiting = second!.withNodeSlot('pve03', async () => {
    events.push('second-start');
  });
  await Promise.all([long, waiting]);
  assert.deepEqual(events, ['first-start', 'first-end', 'second-start']);
});

test('a caller that cannot get a slot in time gets AdmissionTimeoutError; the slot is released after errors', async () => {
  const [admission] = machines(1, { operationsPerNode: 1, acquireTimeoutMs: 50 });
  const { held, release } = await holdSlot(admission!, 'pve04');
  await assert.rejects(
    admission!.withNodeSlot('pve04', async () => 'never'),
    AdmissionTimeoutError,
  );
  assert.equal(await waitingFor('pve04'), 0, 'the timed-out caller left the line');
  release();
  await held;
  await assert.rejects(
    admission!.withNodeSlot('pve04', async () => {
      throw new Error('work failed');
    }),
    /work failed/,
  );
  assert.equal(await admission!.withNodeSlot('pve04', async () => 'free again'), 'free again');
});

test('a freed slot goes to the waiter of the lowest order (a copy), then the longest remaining critical path, then the earlier', async () => {
  const fleet = machines(3, { operationsPerNode: 1 });
  const { held, release } = await holdSlot(fleet[0]!, 'pve05');
  const order: string[] = [];
  const waiters: Promise<void>[] = [];
  // Joined one at a time, so that the order of arrival is known; spread over the machines.
  const arrivals: [name: string, priorityMs?: number, copy?: number][] = [
    ['none-1'],
    ['short-1', 20_000],
    ['long', 230_000],
    ['short-copy-3', 20_000, 3],
    ['short-2', 20_000],
    ['none-2'],
    ['short-copy-1', 20_000, 1],
    ['middle', 110_000],
    ['long-copy-1', 230_000, 1],
  ];
  for (const [index, [name, priorityMs, copy]] of arrivals.entries()) {
    const base = fleet[index % 3]!;
    const admission = priorityMs === undefined ? base : base.withPriority(priorityMs, copy);
    waiters.push(admission.withNodeSlot('pve05', async () => void order.push(name)));
    await untilWaiting('pve05', index + 1);
  }
  release();
  await Promise.all([held, ...waiters]);
  assert.deepEqual(order, [
    'long',
    'middle',
    'short-1',
    'short-2',
    'long-copy-1',
    'short-copy-1',
    'short-copy-3',
    'none-1',
    'none-2',
  ]);
});

test('a waiter on another machine is woken when a slot frees, not at its next check', async () => {
  // Waiters check the line themselves only every 2 s: a start within a fraction of that can only
  // come from the wake-up the release publishes.
  const [holder, other] = machines(2, { operationsPerNode: 1, slotTtlMs: 30_000 });
  const { held, release } = await holdSlot(holder!, 'pve06');
  let started = 0;
  const waiting = other!.withNodeSlot('pve06', async () => {
    started = Date.now();
  });
  await untilWaiting('pve06', 1);
  await sleep(50);
  const released = Date.now();
  release();
  await Promise.all([held, waiting]);
  assert.ok(started - released < 1_000, `woken ${started - released} ms after the release`);
  const waits = await other!.nodeWaits('pve06');
  assert.equal(waits.grants, 2);
  assert.ok(waits.maxWaitMs >= 50, `the wait was recorded (${waits.maxWaitMs} ms)`);
});

test("each machine hears only of its own waiters' grants, and a clone is told of its turn once", async () => {
  const [one, two] = machines(2, { operationsPerNode: 3 });
  // The shortest clone hold on pve16 is about 301 ms: clones are granted about 100 ms apart, a turn
  // falls between two milliseconds, and the turn named must be the same every time it is named.
  await one!.withCloneSlot({ node: 'pve16', storage: 'local-lvm', full: false }, () => sleep(301));
  // What every machine would read: the grants published on the node's channels.
  const listener = new Redis(testRedis.url);
  connections.push(listener);
  const heard: { channel: string; words: string[] }[] = [];
  listener.on('pmessage', (_pattern: string, channel: string, message: string) =>
    heard.push({ channel, words: message.split(' ') }),
  );
  await listener.psubscribe(`${testRedis.prefix}:pve:node:pve16:granted*`);
  // Three clones that hold on past each other's turns (no clone hold ends, the spacing stays), and
  // short starts all the while: each of their calls on the line finds a clone waiting for its turn.
  const grants: number[] = [];
  const began = Date.now();
  await Promise.all([
    ...Array.from({ length: 3 }, (_, index) =>
      (index % 2 ? one : two)!.withCloneSlot({ node: 'pve16', storage: 'local-lvm', full: false }, async () => {
        grants.push(Date.now() - began);
        await sleep(500);
      }),
    ),
    ...Array.from({ length: 8 }, async (_, index) => {
      await sleep(10 + index * 20);
      await (index % 2 ? two : one)!.withNodeSlot('pve16', () => sleep(5), undefined, 'start');
    }),
  ]);
  await listener.punsubscribe();
  assert.ok(grants[1]! - grants[0]! >= 90 && grants[2]! - grants[1]! >= 90, `clone grants at ${grants.join(', ')} ms`);
  const told = new Map<string, number>();
  for (const { channel, words } of heard) {
    for (const word of words) {
      const token = word.replace(/^later:\d+:/, '');
      // A token is `[clone:]<machine>/<uuid>`, published on `<channel>:<machine>`.
      const machineId = /([0-9a-f]+)\//.exec(token)?.[1];
      assert.equal(channel, `${testRedis.prefix}:pve:node:pve16:granted:${machineId}`, `${word} on ${channel}`);
      if (word.startsWith('later:')) told.set(token, (told.get(token) ?? 0) + 1);
    }
  }
  for (const [token, times] of told) assert.equal(times, 1, `${token} told of its turn ${times} times`);
});

test("the slots' use is counted by kind of work, over machines; a caller that never held one counts none", async () => {
  const [one, two] = machines(2, { operationsPerNode: 1, acquireTimeoutMs: 50 });
  await one!.withNodeSlot('pve08', () => sleep(60), undefined, 'start');
  await two!.withNodeSlot('pve08', () => sleep(20), undefined, 'start');
  await two!.withCloneSlot({ node: 'pve08', storage: 'local-lvm', full: false }, () => sleep(30));
  // A caller that timed out in line held nothing: no `resize` hold is counted for it.
  const { held, release } = await holdSlot(one!, 'pve08');
  await assert.rejects(
    two!.withNodeSlot('pve08', () => sleep(10), undefined, 'resize'),
    AdmissionTimeoutError,
  );
  release();
  await held;
  const { holds, occupiedMs } = await two!.nodeWaits('pve08');
  assert.ok(occupiedMs >= holds.start!.heldMs + holds.clone!.heldMs, `taken ${occupiedMs} ms in all`);
  assert.deepEqual(Object.keys(holds).sort(), ['clone', 'other', 'start']);
  assert.equal(holds.start!.count, 2);
  // Timers may fire a millisecond early by the holder's clock.
  assert.ok(holds.start!.minMs >= 15 && holds.start!.minMs < 60, `shortest start hold ${holds.start!.minMs} ms`);
  assert.ok(holds.start!.heldMs >= 75, `start holds in all ${holds.start!.heldMs} ms`);
  assert.equal(holds.clone!.count, 1);
  assert.equal(holds.other!.count, 1);
});

test('a caller is set aside only while it waits in line, and taken back once, granted or not', async () => {
  const [admission] = machines(1, { operationsPerNode: 1, acquireTimeoutMs: 1_000 });
  const calls: string[] = [];
  const setAside = () => {
    calls.push('aside');
    return () => void calls.push('back');
  };
  const view = admission!.withPriority(10_000, 0, setAside);
  await view.withNodeSlot('pve09', async () => void calls.push('at once'));
  assert.deepEqual(calls, ['at once'], 'a free slot sets nobody aside');
  const { held, release } = await holdSlot(admission!, 'pve09');
  const waiting = view.withNodeSlot('pve09', async () => void calls.push('granted'));
  await untilWaiting('pve09', 1);
  await sleep(20);
  assert.deepEqual(calls.slice(1), ['aside']);
  release();
  await Promise.all([held, waiting]);
  assert.deepEqual(calls.slice(1), ['aside', 'back', 'granted']);
  // Timed out in line: taken back all the same.
  const again = await holdSlot(admission!, 'pve09');
  await assert.rejects(
    view.withNodeSlot('pve09', async () => 'never'),
    AdmissionTimeoutError,
  );
  again.release();
  await again.held;
  assert.deepEqual(calls.slice(4), ['aside', 'back']);
});

test("a dead holder's slot and a dead waiter's place lapse with their TTL; the live waiter gets the slot", async () => {
  const ttl = 600;
  const dead = machine({ operationsPerNode: 1, slotTtlMs: ttl });
  const doomed = machine({ operationsPerNode: 1, slotTtlMs: ttl });
  // Bounded, so that a place or slot that never lapsed fails the test instead of hanging it.
  const [live] = machines(1, { operationsPerNode: 1, slotTtlMs: ttl, acquireTimeoutMs: 10_000 });
  // The holder never ends its work; the doomed waiter is first in line (higher priority).
  await holdSlot(dead.admission, 'pve07');
  const doomedWait = doomed.admission.withPriority(200_000).withNodeSlot('pve07', async () => 'never');
  await untilWaiting('pve07', 1);
  const started = Date.now();
  const liveWait = live!.withPriority(1_000).withNodeSlot('pve07', async () => Date.now());
  await untilWaiting('pve07', 2);
  // Both machines die: no more refreshes, heartbeats or releases from them.
  dead.redis.disconnect();
  doomed.redis.disconnect();
  dead.admission.close();
  doomed.admission.close();
  await assert.rejects(doomedWait);
  const ranAt = await liveWait;
  // The holder's slot lapsed (a TTL after its last refresh) and the dead waiter's place too.
  assert.ok(ranAt - started >= ttl / 3, `got the slot ${ranAt - started} ms in, before the dead holder's lapsed`);
  assert.ok(ranAt - started < ttl * 4, `got the slot ${ranAt - started} ms in`);
  assert.equal(await waitingFor('pve07'), 0);
});

test('the scripts go by their SHA-1, and by their text only when Redis answers NOSCRIPT', async () => {
  const { admission, redis } = machine({ operationsPerNode: 2 });
  const sent = { eval: 0, evalsha: 0 };
  /** SHA-1s this "server" has forgotten (as after a restart or a SCRIPT FLUSH, without flushing the shared one). */
  let forgetting = true;
  const known = new Set<string>();
  const evalsha = redis.evalsha.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  const evalText = redis.eval.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  Object.assign(redis, {
    evalsha: (sha: string, ...rest: unknown[]) => {
      sent.evalsha++;
      if (forgetting && !known.has(sha)) {
        known.add(sha);
        return Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.'));
      }
      return evalsha(sha, ...rest);
    },
    eval: (...args: unknown[]) => {
      sent.eval++;
      return evalText(...args);
    },
  });
  for (let i = 0; i < 5; i++) assert.equal(await admission.withNodeSlot('pve08', async () => i), i);
  // Acquire and release: each script's text once (the server did not have it), then its SHA-1 only.
  assert.equal(sent.eval, 2, `${sent.eval} scripts sent as text`);
  assert.equal(sent.evalsha, 10);
  known.clear();
  assert.equal(await admission.withNodeSlot('pve08', async () => 'forgotten'), 'forgotten');
  assert.equal(sent.eval, 4, 'the forgotten scripts are sent again, and the work runs once');
  forgetting = false;
});
