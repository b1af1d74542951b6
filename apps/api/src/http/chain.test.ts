import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { chain } from './chain';

let base: string;
let close: () => Promise<void>;

/** Handlers that note their name on the request, one of them calling next('route'). */
const note =
  (name: string, value?: string): RequestHandler =>
  (req, _res, next) => {
    const noted = req as Request & { seen?: string[] };
    noted.seen = [...(noted.seen ?? []), name];
    next(value);
  };
const answer = (req: Request, res: Response) => res.json((req as Request & { seen?: string[] }).seen ?? []);

before(async () => {
  const app = express();
  // Mounted with use: 'route' goes on to the chain's next handler, as Express does between use layers.
  app.use('/use', chain([note('a', 'route'), note('b')], 'use'), answer);
  app.use('/layers', note('a', 'route'), note('b'), answer);
  // In a route: 'route' skips the route's remaining handlers, and the request goes to the next route.
  app.get('/route', chain([note('a', 'route'), note('b')], 'route'), answer);
  app.get('/route', answer);
  app.get('/throws', chain([note('a'), () => Promise.reject(new Error('boom'))], 'route'));
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => res.status(500).json(error.message));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
after(() => close());

test("next('route') means what Express makes of it where the chain is mounted", async () => {
  const used = await (await fetch(`${base}/use`)).json();
  assert.deepEqual(used, await (await fetch(`${base}/layers`)).json());
  assert.deepEqual(used, ['a', 'b']);
  assert.deepEqual(await (await fetch(`${base}/route`)).json(), ['a']);
});

test('a rejected handler passes its error on; an error handler is refused', async () => {
  const response = await fetch(`${base}/throws`);
  assert.equal(response.status, 500);
  assert.equal(await response.json(), 'boom');
  assert.throws(
    () => chain([(_error: unknown, _req: Request, _res: Response, next: NextFunction) => next()] as never, 'use'),
    /error handler/,
  );
});
