import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ChangeFeed, type Db } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import { type Producer, VM_DEPLOY_STEPS } from '@glassdome/queue';
import { OutboxRelay } from '@glassdome/runtime';
import express, { type Express, type RequestHandler, Router } from 'express';
import { adminBoard } from './admin-board';
import { authenticate, mutationsNeedOperator, requireRole, traineesReadTheirCopyOnly } from './auth/middleware';
import { SessionStore, sessionSigningKey, trustProxySetting } from './auth/session';
import type { ApiContext } from './context';
import { UnauthorizedError } from './errors';
import { bodyParsers } from './http/body';
import { chain } from './http/chain';
import { errorHandler, notFound } from './http/error-handler';
import { idempotency } from './http/idempotency';
import { rateLimit } from './http/rate-limit';
import { requestId } from './http/request-id';
import { routeIndex } from './http/route-index';
import { type ApiMetrics, createMetrics } from './metrics';
import { openApiDocument } from './openapi';
import { watchRedis } from './redis-watch';
import { DEFAULT_RETENTION, type RetentionOptions, startRetention } from './retention';
import { healthRoutes } from './routes/health';
import { jobRoutes } from './routes/jobs';
import { keyRoutes, traineeKeyRoutes } from './routes/keys';
import { labActionRoutes } from './routes/lab-actions';
import { type LabEventStreamOptions, labEventRoutes } from './routes/lab-events';
import { labLibraryRoutes } from './routes/lab-library';
import { labLifecycleRoutes } from './routes/lab-lifecycle';
import { labRosterRoutes } from './routes/lab-roster';
import { labSnapshotRoutes } from './routes/lab-snapshots';
import { labAliasRoutes, labRoutes } from './routes/labs';
import { mcpRoutes } from './routes/mcp';
import { meRoutes } from './routes/me';
import { networkRoutes } from './routes/networks';
import { overseerRoutes } from './routes/overseer';
import { permissionRoutes } from './routes/permissions';
import { poolRoutes } from './routes/pools';
import { projectRoutes } from './routes/projects';
import { sessionRoutes } from './routes/session';
import { systemRoutes } from './routes/system';
import { templateRoutes } from './routes/templates';
import { type GuestKeyOf, TerminalServer } from './routes/terminal';
import { agentAliasRoutes, vmDeployHandlers, vmRoutes } from './routes/vms';
import { webRoutes } from './routes/web';
import { webViewRoutes } from './routes/web-views';
import { DeployBatcher } from './services/deploy-batch';
import { DEFAULT_QUOTAS, type Quotas } from './services/quotas';

export interface AppDeps {
  db: Db;
  /** DATABASE_URL: the change feed LISTENs on a connection of its own (without it, one shared poll feeds the streams). */
  databaseUrl?: string;
  producer: Producer;
  logger: Logger;
  /** Node standalone VMs and templates are placed on (PROXMOX_NODE). */
  node: string;
  /** Platform every new resource belongs to. @defaultValue 'default' */
  platformId?: string;
  /** Requests per minute per API key (API_RATE_LIMIT). @defaultValue 600 */
  rateLimit?: number;
  /** Requests per minute per client address, before authentication (API_RATE_LIMIT_PER_ADDRESS). @defaultValue max(2400, 4 × rateLimit) */
  addressRateLimit?: number;
  /** Largest request body in bytes. @defaultValue 1048576 */
  bodyLimitBytes?: number;
  /** How long a confirmation token of the MCP server's acting tools lasts (MCP_CONFIRM_TTL_SECONDS). @defaultValue 120 s */
  mcpConfirmTtlMs?: number;
  /** Bounds and keep-alive of lab event streams (SSE_*). */
  labEvents?: LabEventStreamOptions;
  /** Quotas of projects without their own (QUOTA_*). @defaultValue DEFAULT_QUOTAS */
  quotas?: Quotas;
  /** TEMPLATE_VMIDS as OS → VMID: templates clones may use without being registered. @defaultValue ubuntu-22.04 → 9000 */
  templateVmids?: ReadonlyMap<string, number>;
  /** Retention of events, idempotent answers and finished jobs; false: no pruning (tests). */
  retention?: Partial<RetentionOptions> | false;
  /** Bearer token `/metrics` requires (METRICS_KEY); without it `/metrics` is open. */
  metricsKey?: string;
  /** GLASSDOME_SECRET_KEY: web session cookies are signed with a key derived from it (random per process without it). */
  secretKey?: string;
  /** How long a web session lasts (WEB_SESSION_HOURS). @defaultValue 43200 (12 h) */
  sessionSeconds?: number;
  /** Web terminals: Glassdome's guest key (undefined: terminals answer 503) and the guests' SSH port. */
  terminal?: { guestKey: GuestKeyOf | undefined; guestSshPort: number };
  /** Where the web UI's build is (WEB_DIST_DIR). @defaultValue apps/web/dist */
  webDistDir?: string;
  /** Proxies whose X-Forwarded-Proto is believed (API_TRUST_PROXY; see trustProxySetting). @defaultValue none */
  trustProxy?: string;
}

export interface App {
  app: Express;
  metrics: ApiMetrics;
  /** The HTTP server's 'upgrade' listener (web terminals). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Stops the outbox relay's timer after a last pass, and closes open terminals. */
  close(): Promise<void>;
}

/**
 * What every request under /api passes before its route, in order: the limits (per address, then
 * per key), authentication, the roles' rules, the body, idempotency.
 */
function apiGuard(deps: AppDeps, sessions: SessionStore): RequestHandler[] {
  const limits = { redis: deps.producer.connection, prefix: deps.producer.prefix };
  // Per address first: a flood of made-up keys is refused before each costs a Postgres lookup. A key
  // seen valid before is looked up and counted meanwhile (authenticate and perKey still decide).
  const authenticated = authenticate(deps.db, sessions);
  const perKey = rateLimit({ ...limits, limit: deps.rateLimit ?? 600 });
  return [
    rateLimit({ ...limits, limit: addressLimit(deps), per: 'address', prefetching: [authenticated, perKey] }),
    authenticated,
    perKey,
    traineesReadTheirCopyOnly,
    mutationsNeedOperator,
    ...bodyParsers(deps.bodyLimitBytes ?? 1024 * 1024),
    idempotency(deps.db),
  ];
}

/** Everything under /api/v1 (and the original /api aliases): authenticated, rate-limited, parsed. */
function apiRouter(ctx: ApiContext, deps: AppDeps, guard: RequestHandler[]): Router {
  const routers = [
    vmRoutes,
    labRoutes,
    labActionRoutes,
    templateRoutes,
    permissionRoutes,
    jobRoutes,
    overseerRoutes,
    keyRoutes,
    systemRoutes,
    webViewRoutes,
    meRoutes,
    labSnapshotRoutes,
    labLifecycleRoutes,
    labRosterRoutes,
    labLibraryRoutes,
    poolRoutes,
    networkRoutes,
  ].map((routes) => routes(ctx));
  routers.push(projectRoutes(ctx), traineeKeyRoutes(ctx), labEventRoutes(ctx, deps.labEvents));

  const api = Router();
  api.use(chain(guard, 'use'));
  // One index over the routes of every table (see routeIndex): a request walks only the layers of its
  // first path segment instead of entering each table in turn.
  api.use('/v1', routeIndex(routers));
  api.use(agentAliasRoutes(ctx));
  api.use(labAliasRoutes(ctx));
  return api;
}

function addressLimit(deps: AppDeps): number {
  return deps.addressRateLimit ?? Math.max(2400, 4 * (deps.rateLimit ?? 600));
}

/**
 * `/metrics`: behind METRICS_KEY when one is set, and rendered at most once per second however often
 * it is scraped (the figures come from counters and small tables, never a scan of the steps).
 */
function metricsRoute(metrics: ApiMetrics, key: string | undefined) {
  let cached: { at: number; body: Promise<string> } | undefined;
  const expected = key ? Buffer.from(`Bearer ${key}`) : undefined;
  return async (req: express.Request, res: express.Response) => {
    if (expected) {
      const given = Buffer.from(req.get('authorization') ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new UnauthorizedError('/metrics needs METRICS_KEY as a Bearer token');
      }
    }
    if (!cached || Date.now() - cached.at > 1_000) cached = { at: Date.now(), body: metrics.registry.metrics() };
    const body = await cached.body.catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
    res.type(metrics.registry.contentType).send(body);
  };
}

/** The API as an Express app, without listening: main.ts serves it, tests may run it in-process. */
export function createApp(deps: AppDeps): App {
  const feed = new ChangeFeed(deps.db, deps.databaseUrl, {
    catchUpMs: deps.databaseUrl ? 5_000 : 250,
    onError: (error) => deps.logger.warn({ err: error }, 'change feed: trouble with Postgres; carrying on'),
  });
  feed.start().catch((error: unknown) => deps.logger.error({ err: error }, 'change feed did not start'));
  const relay = new OutboxRelay(deps.db, deps.producer, deps.logger).start();
  const quotas = deps.quotas ?? DEFAULT_QUOTAS;
  const ctx: ApiContext = {
    db: deps.db,
    producer: deps.producer,
    relay,
    deploys: new DeployBatcher(deps.db, relay, VM_DEPLOY_STEPS, quotas),
    platformId: deps.platformId ?? 'default',
    node: deps.node,
    quotas,
    templateVmids: deps.templateVmids ?? new Map([['ubuntu-22.04', 9000]]),
    guestSshPort: deps.terminal?.guestSshPort ?? 22,
    feed,
  };
  const stopRetention =
    deps.retention === false
      ? () => {}
      : startRetention(deps.db, deps.producer, deps.logger, { ...DEFAULT_RETENTION, ...deps.retention });
  watchRedis(deps.producer, deps.logger);
  const metrics = createMetrics(deps.db, deps.producer);
  const sessions = new SessionStore({
    signingKey: sessionSigningKey(deps.secretKey),
    lifetimeSeconds: deps.sessionSeconds ?? 12 * 3600,
    redis: deps.producer.connection,
    prefix: deps.producer.prefix,
  });
  const terminals = new TerminalServer({
    db: deps.db,
    sessions,
    logger: deps.logger,
    guestKey: deps.terminal?.guestKey,
    guestSshPort: deps.terminal?.guestSshPort ?? 22,
  });
  const signInLimit = rateLimit({
    redis: deps.producer.connection,
    prefix: deps.producer.prefix,
    limit: deps.rateLimit ?? 600,
    per: 'address',
    bucket: 'sign-in',
  });
  const app = express();
  app.disable('x-powered-by');
  if (deps.trustProxy) app.set('trust proxy', trustProxySetting(deps.trustProxy));
  // Every request's id and timing.
  const perRequest = [requestId(deps.logger), metrics.observe];
  // The hot route first, through the same guard as the rest of /api: a deploy would otherwise walk
  // the health, session and /api routers and seventeen route tables to reach it (Express matches
  // each layer's path in turn): about 5 % of its CPU (472 -> 446 us per deploy). Its handlers, the
  // per-request ones first, run as one layer (chain): Express's work per layer was more than most
  // of them cost. An error it passes on skips the per-request layer below, as every handler does.
  const guard = apiGuard(deps, sessions);
  app.post('/api/v1/vms', chain([...perRequest, ...guard, ...vmDeployHandlers(ctx)], 'route'));
  app.use(chain(perRequest, 'use'));
  app.use(routeIndex([healthRoutes(ctx)]));
  app.get('/metrics', metricsRoute(metrics, deps.metricsKey));
  const openapi = openApiDocument();
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(
    '/admin/queues',
    rateLimit({
      redis: deps.producer.connection,
      prefix: deps.producer.prefix,
      limit: addressLimit(deps),
      per: 'address',
    }),
    authenticate(deps.db, sessions),
    requireRole('admin'),
    adminBoard(deps.producer, '/admin/queues'),
  );
  app.use(
    '/api/v1',
    routeIndex([sessionRoutes({ db: deps.db, sessions, limiter: signInLimit, onSessionEnd: terminals.endSession })]),
  );
  app.use('/api', apiRouter(ctx, deps, guard));
  // The MCP server (Streamable HTTP) calls this API back with the caller's key.
  const mcp = mcpRoutes({
    db: deps.db,
    logger: deps.logger,
    limiter: rateLimit({ redis: deps.producer.connection, prefix: deps.producer.prefix, limit: deps.rateLimit ?? 600 }),
    bodyLimitBytes: deps.bodyLimitBytes ?? 1024 * 1024,
    ...(deps.mcpConfirmTtlMs !== undefined ? { confirmTtlMs: deps.mcpConfirmTtlMs } : {}),
  });
  app.use('/mcp', mcp.router);
  app.use(webRoutes(deps.webDistDir));
  app.use(notFound);
  app.use(errorHandler);
  return {
    app,
    metrics,
    upgrade: terminals.handleUpgrade,
    close: async () => {
      stopRetention();
      terminals.close();
      await mcp.close();
      await ctx.relay.stop();
      await feed.close();
    },
  };
}
