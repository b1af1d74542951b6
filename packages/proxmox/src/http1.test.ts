import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { ProxmoxClient } from './client';
import { TransientError } from './errors';

/**
 * A raw HTTP server: each request (its line, and its body as the Content-Length says) is answered by
 * `answer` with the bytes it returns, written in the pieces given (a pause between them), or by
 * nothing for `undefined` (the request is then left hanging). Runs `body` with a client of it (idle
 * connections dropped after `idleMs`), then closes both.
 */
async function withServer(
  answer: (request: { line: string; body: string; connection: number }) => (string | Buffer)[] | undefined,
  body: (client: ProxmoxClient, seen: { connections: number; lines: string[] }) => Promise<void>,
  options: { idleMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const sockets: Socket[] = [];
  const seen = { connections: 0, lines: [] as string[] };
  const server = createServer((socket) => {
    sockets.push(socket);
    const connection = ++seen.connections;
    let pending = Buffer.alloc(0);
    socket.on('data', async (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const line = head.split('\r\n')[0]!;
        const requestBody = pending.toString('utf8', end + 4, end + 4 + length);
        pending = pending.subarray(end + 4 + length);
        seen.lines.push(`${connection}:${line}`);
        const pieces = answer({ line, body: requestBody, connection });
        if (!pieces) continue;
        for (const [i, piece] of pieces.entries()) {
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, 10));
          if (piece === 'CLOSE') socket.end();
          else socket.write(piece);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ProxmoxClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    node: 'pve',
    auth: { tokenId: 'a@pve!t', tokenSecret: 'secret-value' },
    retry: { attempts: 1 },
    ...(options.idleMs ? { keepAliveIdleMs: options.idleMs } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  try {
    await body(client, seen);
  } finally {
    client.close();
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}

const ok = (data: unknown, extra = '') => {
  const text = JSON.stringify({ data });
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n${extra}Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
};

test('one connection serves call after call; the request goes out whole, body and length in it', async () => {
  await withServer(
    ({ line, body }) => [ok(`${line.split(' ')[0]} ${body}`)],
    async (client, seen) => {
      assert.equal(await client.get('/version'), 'GET ');
      assert.equal(
        await client.post('/nodes/pve/qemu/100/firewall/rules', { comment: 'été ✓' }),
        `POST comment=${encodeURIComponent('été ✓')}`,
      );
      assert.equal(await client.put('/nodes/pve/qemu/100/config', { cores: 2 }), 'PUT cores=2');
      assert.equal(seen.connections, 1);
    },
  );
});

test('answers in any pieces: split anywhere, chunked with extensions and trailers, interim 100s, 204s', async () => {
  const text = JSON.stringify({ data: 'Überprüfung ✓' });
  const whole = Buffer.from(ok(JSON.parse(text).data));
  const chunked = Buffer.from(
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n${text.slice(0, 5)}\r\n${Buffer.byteLength(text.slice(5)).toString(16)}\r\n${text.slice(5)}\r\n0\r\nX-Trailer: 1\r\n\r\n`,
  );
  let call = 0;
  await withServer(
    () => {
      call++;
      // Each cut in turn: the head split, a character split, every byte apart for the chunked one.
      if (call === 1)
        return [
          whole.subarray(0, 10),
          whole.subarray(10, whole.indexOf(0xc3) + 1),
          whole.subarray(whole.indexOf(0xc3) + 1),
        ];
      if (call === 2) return [...chunked].map((byte) => Buffer.from([byte]));
      if (call === 3) return ['HTTP/1.1 100 Continue\r\n\r\n', ok('after 100')];
      return ['HTTP/1.1 204 No Content\r\n\r\n'];
    },
    async (client, seen) => {
      assert.equal(await client.get('/a'), 'Überprüfung ✓');
      assert.equal(await client.get('/b'), 'Überprüfung ✓');
      assert.equal(await client.get('/c'), 'after 100');
      assert.equal(await client.get('/d'), undefined);
      assert.equal(seen.connections, 1, 'every answer framed right leaves the connection usable');
    },
  );
});

test('a connection is not used again after Connection: close, an unframed body, bytes past the answer', async () => {
  let call = 0;
  await withServer(
    () => {
      call++;
      if (call === 1) return [ok('closing', 'Connection: close\r\n')];
      if (call === 2) return ['HTTP/1.1 200 OK\r\n\r\n{"data":"until close"}', 'CLOSE'];
      if (call === 3) return [`${ok('extra')}HTTP/1.1 200 OK\r\n`];
      return [ok('fine')];
    },
    async (client, seen) => {
      assert.equal(await client.get('/a'), 'closing');
      assert.equal(await client.get('/b'), 'until close');
      assert.equal(await client.get('/c'), 'extra');
      assert.equal(await client.get('/d'), 'fine');
      assert.equal(seen.connections, 4);
    },
  );
});

test('an idle connection is dropped after idleMs; a hanging call times out and the next gets a new connection', async () => {
  await withServer(
    ({ line }) => (line.includes('/hang') ? undefined : [ok('x')]),
    async (client, seen) => {
      await client.get('/a');
      await new Promise((resolve) => setTimeout(resolve, 250));
      await client.get('/b');
      assert.equal(seen.connections, 2, 'not reused past idleMs');
      await assert.rejects(client.get('/hang'), (error: Error) => {
        assert.ok(error instanceof TransientError);
        assert.match(error.message, /timeout of 300ms/);
        return true;
      });
      assert.equal(await client.get('/c'), 'x');
      assert.equal(seen.connections, 3);
    },
    { idleMs: 200, timeoutMs: 300 },
  );
});

test('a path that would break the request line is refused before anything is sent', async () => {
  await withServer(
    () => [ok('x')],
    async (client, seen) => {
      for (const path of ['/nodes/pve\r\nX-Injected: 1/qemu', '/nodes/pvé/qemu']) {
        await assert.rejects(client.get(path), /request path holds characters a request line cannot/);
      }
      assert.deepEqual(seen.lines, []);
    },
  );
});
