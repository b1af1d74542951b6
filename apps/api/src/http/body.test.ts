import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { bodyParsers, readBufferedJson } from './body';
import { chain } from './chain';
import { classify } from './error-handler';

const LIMIT = 1024;

let server: Server;
let port: number;

before(async () => {
  const app = express();
  // Waits as the limiter and authentication do, so a body sent with its headers has arrived whole.
  app.use((_req, _res, next) => void setTimeout(next, 5));
  app.post('/quick', (req, res) => {
    res.json({ quick: readBufferedJson(req, LIMIT), body: req.body ?? null });
  });
  app.post('/read', chain(bodyParsers(LIMIT), 'route'), (req: Request, res: Response) => {
    res.json({ body: req.body === undefined ? 'undefined' : req.body });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const known = classify(error);
    res.status(known?.status ?? 500).json({ code: known?.code, message: known?.message, details: known?.details });
  });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `body` (bytes) with `headers`; with `lateMs`, the headers go first and the body that much later. */
function send(
  path: string,
  body: Buffer,
  headers: Record<string, string>,
  lateMs = 0,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
      );
    });
    req.on('error', reject);
    if (lateMs === 0) {
      req.end(body);
      return;
    }
    req.flushHeaders();
    void sleep(lateMs).then(() => req.end(body));
  });
}

const BODIES: [string, Buffer][] = [
  ['an object', Buffer.from('{"name":"web-01","os":"debian-12"}')],
  ['spaces around', Buffer.from('  \n{"a": [1, 2, {"b": null}]}\t ')],
  ['a string', Buffer.from('"just text"')],
  ['a number', Buffer.from('42')],
  ['non-ASCII', Buffer.from('{"name":"ünïcödé ✓"}')],
  ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')])],
  ['a byte order mark alone', Buffer.from([0xef, 0xbb, 0xbf])],
  ['invalid UTF-8', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}')])],
  ['malformed', Buffer.from('{"name": "web-01",')],
  ['whitespace only', Buffer.from('   ')],
  ['too deep', Buffer.from(`${'['.repeat(70)}${']'.repeat(70)}`)],
  ['too deep and malformed', Buffer.from('['.repeat(70))],
  ['too large', Buffer.from(JSON.stringify({ name: 'a'.repeat(LIMIT) }))],
  ['a YAML-looking string', Buffer.from(JSON.stringify(`${'- '.repeat(80)}x`))],
];

test('a small JSON body that has arrived whole is read without body-parser, and only then', async () => {
  const json = { 'content-type': 'application/json' };
  const whole = await send('/quick', Buffer.from('{"a":1}'), json);
  assert.deepEqual(whole.body, { quick: true, body: { a: 1 } });
  const late = await send('/quick', Buffer.from('{"a":1}'), json, 30);
  assert.deepEqual(late.body, { quick: false, body: null }, 'a body still on its way is left to body-parser');
  const others: Record<string, string>[] = [
    { 'content-type': 'application/json; charset=latin1' },
    { 'content-type': 'Application/JSON' },
    { 'content-type': 'application/json', 'content-encoding': 'identity' },
    { 'content-type': 'text/yaml' },
  ];
  for (const headers of others) {
    const other = await send('/quick', Buffer.from('{"a":1}'), headers);
    assert.deepEqual(other.body, { quick: false, body: null }, JSON.stringify(headers));
  }
});

test('the quick read answers every body as body-parser does: the same value, the same error', async () => {
  // 'application/json' takes the quick read; the other spellings are the same type to body-parser.
  for (const [name, body] of BODIES) {
    const quick = await send('/read', body, { 'content-type': 'application/json' });
    // Sent whole as plain JSON, every body within the limit is the quick read's to take (or refuse
    // with body-parser's error); one over it is left to body-parser (its 413).
    const direct = await send('/quick', body, { 'content-type': 'application/json' });
    if (body.length > LIMIT) assert.deepEqual(direct.body, { quick: false, body: null }, name);
    else if (direct.status !== 200) assert.equal(direct.status, quick.status, name);
    else {
      assert.equal((direct.body as { quick: boolean }).quick, true, name);
      // (A JSON string deep as YAML is refused after the read, by the YAML check both paths share.)
      if (quick.status === 200)
        assert.deepEqual((direct.body as { body: unknown }).body, (quick.body as { body: unknown }).body);
    }
    for (const [type, lateMs] of [
      ['application/json', 30],
      ['application/json; charset=UTF-8', 0],
      ['APPLICATION/JSON', 0],
    ] as const) {
      const parsed = await send('/read', body, { 'content-type': type }, lateMs);
      assert.deepEqual(quick, parsed, `${name}, ${type}${lateMs ? ', sent late' : ''}`);
    }
  }
});

test('requests without a body, and bodies of other types, are read as before', async () => {
  const empty = await send('/read', Buffer.alloc(0), { 'content-type': 'application/json' });
  assert.deepEqual(empty.body, { body: {} }, 'Content-Length: 0 with a JSON type is {}, as body-parser reads it');
  // No Content-Length and no Transfer-Encoding at all (node's own client would send a length of 0).
  const none = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n',
      );
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(none, /^HTTP\/1\.1 200/);
  assert.deepEqual(JSON.parse(none.slice(none.indexOf('\r\n\r\n') + 4)), { body: 'undefined' });
  const yaml = await send('/read', Buffer.from('name: lab'), { 'content-type': 'application/yaml' });
  assert.deepEqual(yaml.body, { body: 'name: lab' });
  const deepYaml = await send('/read', Buffer.from(`${'- '.repeat(80)}x`), { 'content-type': 'application/yaml' });
  assert.equal(deepYaml.status, 400);
});
