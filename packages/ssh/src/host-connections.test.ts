import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Client } from 'ssh2';
import { SshPoolClosedError } from './errors';
import { HostConnections, type HostLimits } from './host-connections';

/** Stands in for an ssh2 Client: the pool only listens for 'close' and calls end(). */
class FakeClient extends EventEmitter {
  ended = false;
  end() {
    if (this.ended) return;
    this.ended = true;
    queueMicrotask(() => this.emit('close'));
  }
}

function hostWith(limits: Partial<HostLimits>, open?: () => Promise<Client>) {
  const opened: FakeClient[] = [];
  let emptied = 0;
  const host = new HostConnections(
    { maxConnections: 2, maxChannelsPerConnection: 1, idleTimeoutMs: 60_000, ...limits },
    open ??
      (async () => {
        const client = new FakeClient();
        opened.push(client);
        return client as unknown as Client;
      }),
    () => {
      emptied += 1;
    },
  );
  return { host, opened, emptied: () => emptied };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('callers beyond the bounds wait and are served as slots free up', async () => {
  const { host, opened } = hostWith({ maxConnections: 2, maxChannelsPerConnection: 2 });
  const first = await Promise.all([host.acquire(), host.acquire(), host.acquire(), host.acquire()]);
  assert.equal(opened.length, 2);
  let fifthServed = false;
  const fifth = host.acquire().then((connection) => {
    fifthServed = true;
    return connection;
  });
  await tick();
  assert.equal(fifthServed, false);
  assert.equal(host.stats().waiting, 1);
  host.release(first[0]!);
  assert.equal((await fifth).client, first[0]!.client);
  assert.equal(opened.length, 2);
});

test('a connection with a free channel is reused before another is opened, and the least busy is chosen', async () => {
  const { host, opened } = hostWith({ maxConnections: 2, maxChannelsPerConnection: 2 });
  const a1 = await host.acquire();
  const a2 = await host.acquire();
  assert.equal(a1, a2);
  const b = await host.acquire();
  assert.notEqual(b, a1);
  assert.equal(opened.length, 2);
  host.release(a1);
  host.release(a2);
  assert.equal(await host.acquire(), a1, 'the idle connection, not the busy one');
});

test('an idle connection is closed and the host reports itself empty', async () => {
  const { host, opened, emptied } = hostWith({ idleTimeoutMs: 10 });
  host.release(await host.acquire());
  await new Promise((resolve) => setTimeout(resolve, 30));
  await tick();
  assert.equal(opened[0]?.ended, true);
  assert.equal(host.stats().connections, 0);
  assert.equal(emptied(), 1);
});

test('a failed open lets a waiting caller try its own', async () => {
  let attempts = 0;
  const { host } = hostWith({ maxConnections: 1 }, async () => {
    attempts += 1;
    if (attempts === 1) throw new Error('refused');
    return new FakeClient() as unknown as Client;
  });
  const [failed, served] = await Promise.allSettled([host.acquire(), host.acquire()]);
  assert.equal(failed.status, 'rejected');
  assert.equal(served.status, 'fulfilled');
  assert.equal(attempts, 2);
});

test('a host that could not be reached at all reports itself empty', async () => {
  const { host, emptied } = hostWith({}, async () => {
    throw new Error('refused');
  });
  await assert.rejects(host.acquire(), /refused/);
  assert.equal(emptied(), 1);
});

test('a dropped connection is forgotten and replaced', async () => {
  const { host, opened } = hostWith({ maxConnections: 1 });
  const connection = await host.acquire();
  host.release(connection);
  opened[0]!.emit('close');
  assert.equal(host.stats().connections, 0);
  host.release(await host.acquire());
  assert.equal(opened.length, 2);
});

test('closing refuses waiting and new callers', async () => {
  const { host, opened } = hostWith({ maxConnections: 1 });
  await host.acquire();
  const waiting = host.acquire();
  host.closeAll();
  await assert.rejects(waiting, SshPoolClosedError);
  await assert.rejects(host.acquire(), SshPoolClosedError);
  assert.equal(opened[0]?.ended, true);
});

test('callers that come together while a connection is being opened share it instead of opening their own', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const opened: FakeClient[] = [];
  const { host } = hostWith({ maxConnections: 4, maxChannelsPerConnection: 3 }, async () => {
    const client = new FakeClient();
    opened.push(client);
    await gate;
    return client as unknown as Client;
  });
  const callers = Array.from({ length: 4 }, () => host.acquire());
  await tick();
  // The first opens; the next two fit in its other two channels and wait; the fourth does not fit, so it opens.
  assert.equal(opened.length, 2);
  release();
  const connections = await Promise.all(callers);
  assert.equal(new Set(connections.map((connection) => connection.client)).size, 2);
  assert.equal(opened.length, 2);
});
