import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { ProxmoxClient } from './client';

/**
 * A raw HTTP server that answers each request line with `{"data": <requests so far>}` unless
 * `misbehave` takes the request (its connection number from 1, its number on that connection from 1)
 * and returns true. Runs `body` with a client of it, then closes both.
 */
async function withRawServer(
  misbehave: (socket: Socket, connection: number, onSocket: number) => boolean,
  body: (client: ProxmoxClient, requestLines: string[]) => Promise<void>,
): Promise<void> {
  const connections: Socket[] = [];
  const requestLines: string[] = [];
  const server = createServer((socket) => {
    connections.push(socket);
    const connection = connections.length;
    let requestsOnSocket = 0;
    socket.on('data', (chunk) => {
      for (const line of chunk.toString().match(/^(GET|POST|PUT|DELETE) \S+/gm) ?? []) {
        requestsOnSocket++;
        requestLines.push(`${connection}:${line}`);
        if (misbehave(socket, connection, requestsOnSocket)) return;
        const answer = JSON.stringify({ data: requestLines.length });
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${answer.length}\r\nConnection: keep-alive\r\n\r\n${answer}`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ProxmoxClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    node: 'pve',
    auth: { tokenId: 'a@pve!t', tokenSecret: 'secret-value' },
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
  });
  try {
    await body(client, requestLines);
  } finally {
    client.close();
    for (const socket of connections) socket.destroy();
    server.close();
  }
}

/**
 * pveproxy drops idle keep-alive connections; a request written to one just as it closes dies with
 * ECONNRESET before the server read it. This server plays that race on purpose: the second request on
 * the first connection is answered by a reset.
 */
test('a request lost on a reused keep-alive socket the server closed is sent again, even a POST', async () => {
  const resetSecond = (socket: Socket, connection: number, onSocket: number) => {
    if (connection !== 1 || onSocket !== 2) return false;
    socket.resetAndDestroy();
    return true;
  };
  await withRawServer(resetSecond, async (client, requestLines) => {
    assert.equal(await client.get('/version'), 1);
    assert.equal(await client.post('/nodes/pve/qemu/100/status/start'), 3);
    assert.deepEqual(requestLines, [
      '1:GET /api2/json/version',
      '1:POST /api2/json/nodes/pve/qemu/100/status/start',
      '2:POST /api2/json/nodes/pve/qemu/100/status/start',
    ]);
  });
});

/**
 * The other side of that race: the server read the request and began to answer, then the connection
 * died. The request was delivered, so a POST must not be sent again even though the socket was reused.
 */
test('an answer cut short on a reused socket is not taken for a request that never left', async () => {
  const cutSecond = (socket: Socket, _connection: number, onSocket: number) => {
    if (onSocket !== 2) return false;
    // Headers promise 64 bytes, 10 arrive, then the connection is reset.
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{"data":"U');
    setTimeout(() => socket.resetAndDestroy(), 20);
    return true;
  };
  await withRawServer(cutSecond, async (client, requestLines) => {
    assert.equal(await client.get('/version'), 1);
    await assert.rejects(client.post('/nodes/pve/qemu/100/clone', { newid: 101 }), (error: Error) => {
      assert.equal((error as Error & { maybeApplied?: boolean }).maybeApplied, true, error.message);
      return true;
    });
    assert.deepEqual(requestLines, ['1:GET /api2/json/version', '1:POST /api2/json/nodes/pve/qemu/100/clone']);
  });
});
