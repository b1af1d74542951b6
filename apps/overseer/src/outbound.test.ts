import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { OutboundPolicy, OutboundRefusedError, postOutbound } from './outbound';

test('internal ranges are refused unless allowed; public addresses pass', () => {
  const closed = new OutboundPolicy();
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
  ]) {
    assert.ok(closed.refusal(address), `${address} is refused`);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(closed.refusal(address), undefined, `${address} passes`);
  }
  const lan = new OutboundPolicy(['10.0.5.0/24', 'fd00::/8']);
  assert.equal(lan.refusal('10.0.5.7'), undefined);
  assert.ok(lan.refusal('10.0.6.7'));
  assert.equal(lan.refusal('fd00::1'), undefined);
});

test('a post to loopback is refused before connecting, by name too; a redirect is returned, never followed', async () => {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === '/moved') res.writeHead(302, { Location: 'http://169.254.169.254/latest' }).end();
    else res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const options = { signal: new AbortController().signal, timeoutMs: 5_000 };
  try {
    for (const host of ['127.0.0.1', 'localhost']) {
      await assert.rejects(
        postOutbound(`http://${host}:${port}/hook`, '{}', {}, new OutboundPolicy(), options),
        (error: Error) => error instanceof OutboundRefusedError && /internal address/.test(error.message),
      );
    }
    assert.equal(hits, 0, 'nothing reached the server');
    await assert.rejects(
      postOutbound('file:///etc/passwd', '{}', {}, new OutboundPolicy(), options),
      OutboundRefusedError,
    );
    const allowed = new OutboundPolicy(['127.0.0.0/8', '::1/128']);
    assert.equal((await postOutbound(`http://localhost:${port}/hook`, '{}', {}, allowed, options)).status, 204);
    const moved = await postOutbound(`http://127.0.0.1:${port}/moved`, '{}', {}, allowed, options);
    assert.equal(moved.status, 302);
    assert.equal(hits, 2, 'the redirect was not followed');
  } finally {
    server.close();
  }
});
