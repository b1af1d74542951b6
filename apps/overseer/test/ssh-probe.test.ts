import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort, startSshd, type TestSshd } from '@glassdome/testkit';
import { unreachableOverSsh } from '../src/ssh-probe';

let sshd: TestSshd;
before(async () => {
  sshd = await startSshd();
});
after(() => sshd?.stop());

test('a live OpenSSH answers the probe; a closed port and a silent listener do not', async () => {
  const closedPort = await freePort();
  // Accepts connections but never speaks, like a hung sshd.
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as { port: number }).port;
  try {
    const live = await unreachableOverSsh([{ id: 'live', host: '127.0.0.1' }], {
      port: sshd.port,
      timeoutMs: 5_000,
      parallel: 4,
    });
    assert.deepEqual([...live], []);
    const closed = await unreachableOverSsh([{ id: 'closed', host: '127.0.0.1' }], {
      port: closedPort,
      timeoutMs: 5_000,
      parallel: 4,
    });
    assert.deepEqual([...closed], ['closed']);
    const hung = await unreachableOverSsh([{ id: 'hung', host: '127.0.0.1' }], {
      port: silentPort,
      timeoutMs: 200,
      parallel: 4,
    });
    assert.deepEqual([...hung], ['hung']);
  } finally {
    silent.close();
  }
});
