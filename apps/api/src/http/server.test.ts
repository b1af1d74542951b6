import assert from 'node:assert/strict';
import { IncomingMessage, request, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express from 'express';
import { createAppServer } from './server';

let base: string;
let close: () => Promise<void>;
let upgraded: unknown;

before(async () => {
  const app = express();
  app.get('/seen', (req, res) => {
    res.json({
      request: Object.getPrototypeOf(req) === app.request,
      response: Object.getPrototypeOf(res) === app.response,
      incoming: req instanceof IncomingMessage,
      outgoing: res instanceof ServerResponse,
      path: req.path,
      query: req.query,
      header: req.get('x-test'),
    });
  });
  const server = createAppServer(app);
  server.on('upgrade', (req, socket) => {
    upgraded = { url: req.url, incoming: req instanceof IncomingMessage };
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
after(() => close());

test("requests and responses are made with the app's prototypes and read as Express's", async () => {
  const response = await fetch(`${base}/seen?a=1`, { headers: { 'x-test': 'yes' } });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    request: true,
    response: true,
    incoming: true,
    outgoing: true,
    path: '/seen',
    query: { a: '1' },
    header: 'yes',
  });
  // Express's own answers (its 404) and headers are unchanged.
  const missing = await fetch(`${base}/nowhere`);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /text\/html/);
});

test("an upgrade request (web terminals) still reaches the server's upgrade listener", async () => {
  await new Promise<void>((resolve) => {
    const req = request(`${base}/ws`, { headers: { connection: 'Upgrade', upgrade: 'websocket' } });
    req.on('response', (res) => {
      res.resume();
      resolve();
    });
    req.on('error', () => resolve());
    req.end();
  });
  assert.deepEqual(upgraded, { url: '/ws', incoming: true });
});
