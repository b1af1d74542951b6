import type { Db } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import type { Producer } from '@glassdome/queue';
import { OutboxRelay } from '@glassdome/runtime';
import express, { type Express, Router } from 'express';
import { adminBoard } from './admin-board';
import { authenticate, mutationsNeedOperator, requireRole } from './auth/middleware';
import type { ApiContext } from './context';
import { bodyParsers } from './http/body';
import { errorHandler, notFound } from './http/error-handler';
import { idempotency } from './http/idempotency';
import { rateLimit } from './http/rate-limit';
import { requestId } from './http/request-id';
import { type ApiMetrics, createMetrics } from './metrics';
import { openApiDocument } from './openapi';
import { watchRedis } from './redis-watch';
import { healthRoutes } from './routes/health';
import { jobRoutes } from './routes/jobs';
import { keyRoutes } from './routes/keys';
import { labActionRoutes } from './routes/lab-actions';
import { type LabEventStreamOptions, labEventRoutes } from './routes/lab-events';
import { labAliasRoutes, labRoutes } from './routes/labs';
import { overseerRoutes } from './routes/overseer';
import { permissionRoutes } from './routes/permissions';
import { systemRoutes } from './routes/system';
import { templateRoutes } from './routes/templates';
import { agentAliasRoutes, vmRoutes } from './routes/vms';

export interface AppDeps {
  db: Db;
  producer: Producer;
  logger: Logger;
  /** Node standalone VMs and templates are placed on (PROXMOX_NODE). */
  node: string;
  /** Platform every new resource belongs to. @defaultValue 'default' */
  platformId?: string;
  /** Requests per minute per API key (API_RATE_LIMIT). @defaultValue 600 */
  rateLimit?: number;
  /** Largest request body in bytes. @defaultValue 1048576 */
  bodyLimitBytes?: number;
  /** Polling and keep-alive of the lab event stream. @defaultValue {pollMs: 250, keepAliveMs: 15000} */
  labEvents?: LabEventStreamOptions;
}

export interface App {
  app: Express;
  metrics: ApiMetrics;
  /** Stops the outbox relay's timer after a last pass. */
  close(): Promise<void>;
}

/** Everything under /api/v1 (and the original /api aliases): authenticated, rate-limited, parsed. */
function apiRouter(ctx: ApiContext, deps: AppDeps): Router {
  const v1 = Router();
  for (const routes of [
    vmRoutes,
    labRoutes,
    labActionRoutes,
    templateRoutes,
    permissionRoutes,
    jobRoutes,
    overseerRoutes,
    keyRoutes,
    systemRoutes,
  ]) {
    v1.use(routes(ctx));
  }
  v1.use(labEventRoutes(ctx, deps.labEvents));

  const api = Router();
  api.use(authenticate(deps.db));
  api.use(rateLimit({ redis: deps.producer.connection, prefix: deps.producer.prefix, limit: deps.rateLimit ?? 600 }));
  api.use(mutationsNeedOperator);
  api.use(bodyParsers(deps.bodyLimitBytes ?? 1024 * 1024));
  api.use(idempotency(deps.db));
  api.use('/v1', v1);
  api.use(agentAliasRoutes(ctx));
  api.use(labAliasRoutes(ctx));
  return api;
}

/** The API as an Express app, without listening: main.ts serves it, tests may run it in-process. */
export function createApp(deps: AppDeps): App {
  const ctx: ApiContext = {
    db: deps.db,
    producer: deps.producer,
    relay: new OutboxRelay(deps.db, deps.producer, deps.logger).start(),
    platformId: deps.platformId ?? 'default',
    node: deps.node,
  };
  watchRedis(deps.producer, deps.logger);
  const metrics = createMetrics(deps.db, deps.producer);
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId(deps.logger));
  app.use(metrics.observe);
  app.use(healthRoutes(ctx));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const openapi = openApiDocument();
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/admin/queues', authenticate(deps.db), requireRole('admin'), adminBoard(deps.producer, '/admin/queues'));
  app.use('/api', apiRouter(ctx, deps));
  app.use(notFound);
  app.use(errorHandler);
  return { app, metrics, close: () => ctx.relay.stop() };
}
