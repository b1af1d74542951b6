import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ProxmoxClient } from './client';
import { AuthenticationError, InvalidParameterError, TransientError } from './errors';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (seen: Seen, res: ServerResponse) => void;

const secret = '3b4d7e0e-1c2a-4f5b-9d1e-0a1b2c3d4e5f';
const seen: Seen[] = [];
let handler: Handler = (_seen, res) => json(res, 200, { data: null });
let server: Server;
let baseUrl: string;

function json(res: ServerResponse, status: number, body: unknown, statusText?: string) {
  res.writeHead(status, statusText, { 'Content-Type': 'application/json;charset=UTF-8' });
  res.end(JSON.stringify(body));
}

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(entry);
      handler(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function tokenClient(retryAttempts = 3) {
  return new ProxmoxClient({
    baseUrl,
    node: 'pve',
    auth: { tokenId: 'glassdome@pve!deploy', tokenSecret: secret },
    retry: { attempts: retryAttempts, baseDelayMs: 1, maxDelayMs: 2 },
  });
}

test('token header, GET parameters in the query, POST parameters form-encoded (none: an empty body), data unwrapped', async () => {
  seen.length = 0;
  handler = (entry, res) => json(res, 200, { data: entry.method === 'GET' ? '100' : 'UPID:x' });
  const client = tokenClient();
  assert.equal(await client.get('/cluster/nextid', { vmid: 100 }), '100');
  await client.post('/nodes/pve/qemu/9000/clone', { newid: 101, full: true, name: 'web-1' });
  await client.post('/nodes/pve/qemu/101/status/start');
  client.close();
  assert.equal(seen[0]?.url, '/api2/json/cluster/nextid?vmid=100');
  assert.equal(seen[0]?.body, '');
  assert.equal(seen[0]?.headers.authorization, `PVEAPIToken=glassdome@pve!deploy=${secret}`);
  assert.equal(seen[1]?.url, '/api2/json/nodes/pve/qemu/9000/clone');
  assert.equal(seen[1]?.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(seen[1]?.body, 'newid=101&full=1&name=web-1');
  // A POST without parameters says its body is empty; a GET says nothing of a body.
  assert.equal(seen[2]?.headers['content-length'], '0');
  assert.equal(seen[0]?.headers['content-length'], undefined);
});

test('transient answers are retried within the bound; parameter errors are not', async () => {
  seen.length = 0;
  let failures = 2;
  handler = (_entry, res) =>
    failures-- > 0
      ? json(res, 500, { data: null }, "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout")
      : json(res, 200, { data: { ok: 1 } });
  const client = tokenClient();
  assert.deepEqual(await client.put('/nodes/pve/qemu/101/config', { cores: 2 }), { ok: 1 });
  assert.equal(seen.length, 3);

  seen.length = 0;
  handler = (_entry, res) =>
    json(
      res,
      400,
      { data: null, errors: { cores: "type check ('integer') failed - got 'x'" } },
      'Parameter verification failed.',
    );
  await assert.rejects(client.put('/nodes/pve/qemu/101/config', { cores: 'x' }), InvalidParameterError);
  assert.equal(seen.length, 1);

  seen.length = 0;
  handler = (_entry, res) => json(res, 503, { data: null }, 'Service Unavailable');
  await assert.rejects(client.get('/nodes'), TransientError);
  assert.equal(seen.length, 3, 'gave up after the configured attempts');
  client.close();
});

test('no secret reaches an error message, even when the server echoes it', async () => {
  handler = (_entry, res) => {
    res.writeHead(401, `Authentication failed! ${secret}`);
    res.end();
  };
  const client = tokenClient();
  const error = await client.get('/nodes').catch((caught: unknown) => caught);
  assert.ok(error instanceof AuthenticationError);
  assert.ok(!JSON.stringify({ ...error, message: error.message, stack: error.stack }).includes(secret));
  assert.match(error.message, /Authentication failed! \[redacted\]/);

  handler = (_entry, res) =>
    json(
      res,
      400,
      { data: null, errors: { password: `bad value ${'hunter2-password'}` } },
      'Parameter verification failed.',
    );
  const echoed = await client
    .post('/access/users', { userid: 'x@pve', password: 'hunter2-password' })
    .catch((caught: unknown) => caught as Error);
  assert.ok(echoed instanceof InvalidParameterError);
  assert.ok(!JSON.stringify({ ...echoed, message: echoed.message }).includes('hunter2-password'));
  client.close();
});

test('ticket auth: logs in once, CSRF token on writes only, logs in again after a refused ticket', async () => {
  seen.length = 0;
  let logins = 0;
  let refuseNext = false;
  handler = (entry, res) => {
    if (entry.url.endsWith('/access/ticket')) {
      logins++;
      json(res, 200, { data: { ticket: `PVE:root@pam:${logins}::sig`, CSRFPreventionToken: `csrf-${logins}` } });
      return;
    }
    if (refuseNext) {
      refuseNext = false;
      res.writeHead(401, 'No ticket');
      res.end();
      return;
    }
    json(res, 200, { data: null });
  };
  const client = new ProxmoxClient({
    baseUrl,
    node: 'pve',
    auth: { username: 'root@pam', password: 'correct horse' },
    retry: { attempts: 1 },
  });
  await Promise.all([client.get('/nodes'), client.get('/version')]);
  await client.post('/nodes/pve/qemu/100/status/start');
  refuseNext = true;
  await client.get('/nodes');
  client.close();
  assert.equal(logins, 2);
  assert.equal(seen[0]?.body, 'username=root%40pam&password=correct%20horse');
  const start = seen.find((entry) => entry.url.endsWith('/status/start'));
  assert.equal(start?.headers.cookie, `PVEAuthCookie=${encodeURIComponent('PVE:root@pam:1::sig')}`);
  assert.equal(start?.headers.csrfpreventiontoken, 'csrf-1');
  const get = seen.find((entry) => entry.url.endsWith('/version'));
  assert.equal(get?.headers.csrfpreventiontoken, undefined);
  assert.equal(seen.at(-1)?.headers.cookie, `PVEAuthCookie=${encodeURIComponent('PVE:root@pam:2::sig')}`);
});

test("calls of a view in flight when its signal fires stop at once with its reason; another view's go on", async () => {
  const held: ServerResponse[] = [];
  handler = (_entry, res) => held.push(res);
  const client = tokenClient(1);
  const controller = new AbortController();
  const stopped = client.withSignal(controller.signal);
  const other = client.withSignal(new AbortController().signal);
  // A call of the view that ended before the signal fired leaves nothing behind to be run by it.
  handler = (_entry, res) => json(res, 200, { data: 'done' });
  assert.equal(await stopped.get('/version'), 'done');
  handler = (_entry, res) => held.push(res);
  const calls = [stopped.get('/nodes'), stopped.post('/nodes/pve/qemu/100/status/start'), other.get('/cluster/status')];
  while (held.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  const reason = new Error('job stopped');
  controller.abort(reason);
  const [first, second] = await Promise.allSettled(calls.slice(0, 2));
  assert.deepEqual(
    [first, second],
    [
      { status: 'rejected', reason },
      { status: 'rejected', reason },
    ],
  );
  await assert.rejects(stopped.get('/version'), (error) => error === reason);
  for (const res of held) if (!res.destroyed) json(res, 200, { data: 'answered' });
  assert.equal(await calls[2], 'answered');
  client.close();
});

test('an answer arriving in pieces, one character split between them, is read whole', async () => {
  const text = 'Überprüfung — ok ✓';
  const body = Buffer.from(JSON.stringify({ data: text }));
  // Cut inside the two bytes of the first character and inside the three of the dash.
  const cuts = [body.indexOf(0xc3) + 1, body.indexOf(0xe2) + 1, body.length];
  handler = (_entry, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': body.length });
    let from = 0;
    const next = () => {
      const to = cuts.shift()!;
      res.write(body.subarray(from, to));
      from = to;
      if (cuts.length > 0) setTimeout(next, 20);
      else res.end();
    };
    next();
  };
  const client = tokenClient();
  assert.equal(await client.get('/nodes/pve/tasks/x/log'), text);
  client.close();
});
