/**
 * The API process: checks its backing services, migrates, makes sure the bootstrap admin key
 * exists, then serves HTTP until SIGTERM/SIGINT.
 */
import type { Server } from 'node:http';
import { loadEnv, vars } from '@glassdome/config';
import { checkPostgres, createDb, migrateToLatest, PostgresUnavailableError } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { checkRedis, Producer, RedisUnavailableError } from '@glassdome/queue';
import { ensureGuestKey, GuestKeys } from '@glassdome/runtime';
import { createApp } from './app';
import { ensureAdminKey } from './auth/keys';
import { type ApiEnv, apiEnvSchema } from './env';
import { createAppServer } from './http/server';
import type { GuestKeyOf } from './routes/terminal';

/** How long a stopping API waits for in-flight requests (SSE streams are cut) before it exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

function fail(message: string): never {
  process.stderr.write(`api: ${message}\n`);
  process.exit(1);
}

async function checkBackingServices(redisUrl: string, databaseUrl: string): Promise<void> {
  try {
    await checkPostgres(databaseUrl);
    await checkRedis(redisUrl);
  } catch (error) {
    if (error instanceof PostgresUnavailableError || error instanceof RedisUnavailableError) fail(error.message);
    throw error;
  }
}

function listen(app: ReturnType<typeof createApp>['app'], host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createAppServer(app);
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * The key a web terminal logs into a VM with, read on first use and kept: its lab copy's (unsealed
 * with GLASSDOME_SECRET_KEY), or the installation's guest key (GUEST_SSH_KEY_FILE, or sealed in
 * Postgres). Neither variable set: terminals are off.
 */
function guestKeyLoader(db: ReturnType<typeof createDb>, env: ApiEnv): GuestKeyOf | undefined {
  if (!env.GUEST_SSH_KEY_FILE && !env.GLASSDOME_SECRET_KEY) return undefined;
  let keys: Promise<GuestKeys> | undefined;
  return async (vm) => {
    keys ??= ensureGuestKey(db, env)
      .then((installation) => new GuestKeys(db, env, installation))
      .catch((error: unknown) => {
        keys = undefined;
        throw error;
      });
    return (await keys).forVm(vm);
  };
}

async function main(): Promise<void> {
  const env = loadEnv(apiEnvSchema, 'api');
  const logger = createLogger({ name: 'api', level: env.LOG_LEVEL, format: env.LOG_FORMAT });
  await checkBackingServices(env.REDIS_URL, env.DATABASE_URL);
  const db = createDb(env.DATABASE_URL);
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  if (env.GLASSDOME_ADMIN_KEY) {
    const bootstrap = await ensureAdminKey(db, env.GLASSDOME_ADMIN_KEY);
    if (bootstrap.revoked) logger.warn({ keyId: bootstrap.id }, 'GLASSDOME_ADMIN_KEY was revoked: the API refuses it');
    else if (bootstrap.created)
      logger.info({ keyId: bootstrap.id, replaced: bootstrap.replaced }, 'bootstrap admin key stored');
  } else logger.warn('GLASSDOME_ADMIN_KEY is not set: only keys created earlier can use the API');
  const producer = await Producer.open(env.REDIS_URL, env.QUEUE_PREFIX, { labTaskBackoffMs: env.LAB_TASK_BACKOFF_MS });
  const api = createApp({
    db,
    databaseUrl: env.DATABASE_URL,
    producer,
    logger,
    node: env.PROXMOX_NODE,
    rateLimit: env.API_RATE_LIMIT,
    addressRateLimit: env.API_RATE_LIMIT_PER_ADDRESS,
    bodyLimitBytes: env.API_BODY_LIMIT_BYTES,
    mcpConfirmTtlMs: env.MCP_CONFIRM_TTL_SECONDS * 1000,
    labEvents: {
      maxPerKey: env.SSE_MAX_PER_KEY,
      maxPerProcess: env.SSE_MAX_PER_PROCESS,
      lifetimeMs: env.SSE_LIFETIME_SECONDS * 1000,
    },
    quotas: {
      maxVms: env.QUOTA_MAX_VMS,
      maxCopies: env.QUOTA_MAX_COPIES,
      maxVcpus: env.QUOTA_MAX_VCPUS,
      maxMemoryMiB: env.QUOTA_MAX_MEMORY_MIB,
      maxLabTtlSeconds: env.QUOTA_MAX_LAB_TTL_SECONDS,
    },
    templateVmids: vars.parseTemplateVmids(env.TEMPLATE_VMIDS),
    retention: { eventDays: env.EVENT_RETENTION_DAYS, idempotencyHours: env.IDEMPOTENCY_RETENTION_HOURS },
    ...(env.METRICS_KEY ? { metricsKey: env.METRICS_KEY } : {}),
    ...(env.GLASSDOME_SECRET_KEY ? { secretKey: env.GLASSDOME_SECRET_KEY } : {}),
    sessionSeconds: Math.round(env.WEB_SESSION_HOURS * 3600),
    terminal: { guestKey: guestKeyLoader(db, env), guestSshPort: env.GUEST_SSH_PORT },
    ...(env.WEB_DIST_DIR ? { webDistDir: env.WEB_DIST_DIR } : {}),
    ...(env.API_TRUST_PROXY ? { trustProxy: env.API_TRUST_PROXY } : {}),
  });
  if (!env.GLASSDOME_SECRET_KEY)
    logger.warn('GLASSDOME_SECRET_KEY is not set: web sessions end when this API restarts');
  const server = await listen(api.app, env.API_HOST, env.API_PORT);
  server.on('upgrade', api.upgrade);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.API_PORT;
  process.stdout.write(`api listening on http://${env.API_HOST}:${port}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const forced = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(forced);
    await api.close().catch(() => {});
    await producer.close().catch(() => {});
    await db.destroy().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
