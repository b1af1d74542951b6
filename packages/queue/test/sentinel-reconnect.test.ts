/**
 * Clients of a Sentinel-watched master (createRedis, both roles) whose master is killed mid-traffic
 * find the promoted replica by themselves, and none ends for good.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type RedisSentinelSet, startRedisSentinel, waitFor } from '@glassdome/testkit';
import { createRedis, type RedisConnection } from '../src/index';

let set: RedisSentinelSet | undefined;
const clients: RedisConnection[] = [];
after(async () => {
  for (const client of clients) client.disconnect();
  await set?.stop();
});

test('a killed master: every client reaches the promoted replica and none has ended', async () => {
  set = await startRedisSentinel({ downAfterMs: 1_000 });
  for (let i = 0; i < 4; i += 1) clients.push(createRedis(set.url, i % 2 ? 'worker' : 'producer'));
  await waitFor('the clients connected', () => clients.every((client) => client.status === 'ready'));
  const traffic = setInterval(() => {
    for (const client of clients) client.ping().catch(() => undefined);
  }, 20);
  try {
    await set.master.process.kill();
    await waitFor('the replica promoted', () => set!.currentMasterPort() === set!.replica.port, { timeoutMs: 30_000 });
    await waitFor(
      'every client answering again',
      async () =>
        (
          await Promise.all(
            clients.map((client) =>
              client.ping().then(
                () => true,
                () => false,
              ),
            ),
          )
        ).every(Boolean),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  } finally {
    clearInterval(traffic);
  }
  assert.deepEqual(
    clients.map((client) => client.status),
    clients.map(() => 'ready'),
  );
  assert.equal(await clients[0]!.set('after-failover', '1'), 'OK', 'writes go to the new master');
});
