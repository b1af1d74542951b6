import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express, { type Express, type Request, type Response, Router } from 'express';
import { routeIndex } from './route-index';

/** Twenty tables as an API mounts them: each its own router, several sharing a first segment. */
function tables(): Router[] {
  const routers: Router[] = [];
  for (let i = 0; i < 18; i += 1) {
    const router = Router();
    router.get(`/table${i}`, (_req, res) => {
      res.json({ from: `table${i}` });
    });
    routers.push(router);
  }
  const labs = Router();
  labs.use('/labs/:id/keys', (req, _res, next) => {
    (req as Request & { seen?: string[] }).seen = ['guard'];
    next();
  });
  labs.get('/labs/:id', (req, res) => {
    res.json({ from: 'labs', id: req.params.id, baseUrl: req.baseUrl });
  });
  routers.push(labs);
  const more = Router();
  more.get('/labs/:id/keys', (req: Request & { seen?: string[] }, res: Response) => {
    res.json({ from: 'keys', seen: req.seen ?? [] });
  });
  more.get('/:anything/echo', (req, res) => {
    res.json({ from: 'pattern', anything: req.params.anything });
  });
  more.post('/labs/:id', (_req, res) => {
    res.status(201).json({ from: 'post labs' });
  });
  routers.push(more);
  return routers;
}

/** An app with the tables under /api/v1, through the index or mounted one after the other. */
function app(indexed: boolean): Express {
  const server = express();
  const v1 = Router();
  if (indexed) v1.use(routeIndex(tables()));
  else for (const router of tables()) v1.use(router);
  server.use('/api/v1', v1);
  server.use((_req, res) => {
    res.status(404).json({ from: 'not found' });
  });
  return server;
}

const bases: Record<'indexed' | 'nested', string> = { indexed: '', nested: '' };
const servers: ReturnType<Express['listen']>[] = [];
before(async () => {
  for (const kind of ['indexed', 'nested'] as const) {
    const server = app(kind === 'indexed').listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    servers.push(server);
    bases[kind] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
});
after(() => {
  for (const server of servers) server.close();
});

async function ask(kind: 'indexed' | 'nested', method: string, path: string) {
  const response = await fetch(`${bases[kind]}${path}`, { method });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json');
  return { status: response.status, allow: response.headers.get('allow'), body: json ? JSON.parse(text) : text };
}

test('the index answers every request as the routers mounted one after the other do', async () => {
  const requests: [string, string][] = [
    ['GET', '/api/v1/table0'],
    ['GET', '/api/v1/table17'],
    ['GET', '/api/v1/TABLE5'],
    ['GET', '/api/v1/table5/'],
    ['GET', '/api/v1/labs/abc'],
    ['POST', '/api/v1/labs/abc'],
    ['GET', '/api/v1/labs/abc/keys'],
    ['GET', '/api/v1/Labs/abc/keys'],
    ['GET', '/api/v1/anything/echo'],
    ['GET', '/api/v1/labs/echo'],
    ['GET', '/api/v1/nothing'],
    ['GET', '/api/v1'],
    ['GET', '/api/v1/'],
    ['GET', '/api/v1/tab%6Ce0'],
    ['DELETE', '/api/v1/labs/abc'],
    ['OPTIONS', '/api/v1/labs/abc'],
  ];
  for (const [method, path] of requests) {
    const indexed = await ask('indexed', method, path);
    const nested = await ask('nested', method, path);
    assert.deepEqual(indexed, nested, `${method} ${path}`);
  }
  assert.deepEqual((await ask('indexed', 'GET', '/api/v1/labs/abc/keys')).body.seen, ['guard']);
  assert.equal((await ask('indexed', 'GET', '/api/v1/labs/x1')).body.baseUrl, '/api/v1');
});
