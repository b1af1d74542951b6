import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, type Logger } from '@glassdome/logger';
import { ProxmoxClient } from './client';
import type { TlsTrust } from './config';
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
  options: { idleMs?: number; timeoutMs?: number; logger?: Logger; tls?: TlsTrust } = {},
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
  const client = new ProxmoxClient(
    {
      baseUrl: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
      node: 'pve',
      auth: { tokenId: 'a@pve!t', tokenSecret: 'secret-value' },
      retry: { attempts: 1 },
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.idleMs ? { keepAliveIdleMs: options.idleMs } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    },
    options.logger,
  );
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

/** A JSON logger whose lines are kept, parsed, for a test to read. */
function keptLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  let text = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ name: 'test', format: 'json', destination });
  return {
    logger,
    text: () => text,
    get lines() {
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

const timeouts = (kept: ReturnType<typeof keptLogger>) =>
  kept.lines.filter((line) => line.msg === 'Proxmox request timed out');

test('a call that times out says where it hung: on a kept-alive connection with nothing back, or midway through its answer', async () => {
  const kept = keptLogger();
  await withServer(
    ({ line }) => {
      if (line.includes('/hang')) return undefined;
      // The head and the start of a body that never ends.
      if (line.includes('/half')) return ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"da'];
      return [ok('x')];
    },
    async (client) => {
      await client.get('/a');
      await assert.rejects(client.get('/hang'), /timeout of 200ms/);
      await assert.rejects(client.get('/half'), /timeout of 200ms/);
      const [hang, half] = timeouts(kept);
      assert.ok(hang && half, kept.text());
      assert.equal(hang.request, 'GET /hang');
      assert.equal(hang.level, 40);
      assert.equal(hang.timeoutMs, 200);
      assert.equal(hang.phase, 'sent');
      assert.equal(hang.reused, true);
      assert.equal(hang.answersBefore, 1);
      assert.equal(typeof hang.idleMs, 'number');
      assert.equal(hang.answerBytes, 0);
      assert.ok((hang.elapsedMs as number) >= 200, `elapsed ${hang.elapsedMs}`);
      assert.equal(typeof hang.localPort, 'number');
      assert.ok((hang.bytesWritten as number) > 0);
      assert.equal(hang.open, 1);
      assert.equal(hang.idle, 0);
      // The hung connection was dropped: the next call made a new one, which began to answer.
      assert.equal(half.request, 'GET /half');
      assert.equal(half.phase, 'answering');
      assert.equal(half.reused, false);
      assert.equal(half.answerBytes, Buffer.byteLength('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"da'));
      assert.notEqual(half.localPort, hang.localPort);
      assert.doesNotMatch(kept.text(), /secret-value/);
    },
    { timeoutMs: 200, logger: kept.logger },
  );
});

test('a call that times out before its connection is made (a TLS handshake never answered) says so, whichever agent made it', async () => {
  // Pinned: the agent hands the socket over only after the handshake; unverified: at once, the
  // request then waiting in it for the handshake.
  for (const tls of [{ fingerprint: 'AB:CD' }, { insecure: true as const }]) {
    const kept = keptLogger();
    // A TCP server that reads and never answers: the client's TLS handshake waits forever.
    await withServer(
      () => undefined,
      async (client, seen) => {
        await assert.rejects(client.get('/version'), /timeout of 200ms/);
        const [timeout] = timeouts(kept);
        assert.ok(timeout, kept.text());
        assert.equal(timeout.request, 'GET /version');
        assert.equal(timeout.phase, 'connecting', JSON.stringify(tls));
        assert.equal(seen.connections, 1, 'the TCP connection was made; its handshake got no answer');
      },
      { timeoutMs: 200, logger: kept.logger, tls },
    );
  }
});
