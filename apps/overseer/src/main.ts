import { hostname } from 'node:os';
import { createLogger } from '@glassdome/logger';
import { createProxmox } from '@glassdome/proxmox';
import { closeOnSignals, createRedis, startWorkers } from '@glassdome/queue';
import {
  connectBackingServices,
  DEFAULT_PLATFORM,
  ensurePlatform,
  exitWhenUnavailable,
  proxmoxConfigFrom,
} from '@glassdome/runtime';
import { type OverseerContext, settingsFromEnv } from './context';
import { readEnv } from './env';
import { OverseerMetrics } from './metrics';
import { remediate } from './remediate';
import { scanPlatform } from './scan';
import { upsertScanSchedulers } from './scheduler';
import { deliverWebhook } from './webhook';

const env = readEnv();
const logger = createLogger({ name: 'overseer', level: env.LOG_LEVEL, format: env.LOG_FORMAT });

async function main(): Promise<void> {
  const backing = await connectBackingServices(env);
  await ensurePlatform(backing.db, env);
  const pve = createProxmox(proxmoxConfigFrom(env), logger);
  const ctx: OverseerContext = {
    db: backing.db,
    producer: backing.producer,
    pve,
    logger,
    settings: settingsFromEnv(env, `${hostname()}:${process.pid}`),
    metrics: new OverseerMetrics(),
  };
  const metricsServer =
    env.OVERSEER_METRICS_PORT === undefined
      ? undefined
      : await ctx.metrics.serve(env.OVERSEER_METRICS_PORT, env.OVERSEER_METRICS_HOST);
  const workers = startWorkers({
    connect: () => createRedis(env.REDIS_URL, 'worker'),
    prefix: env.QUEUE_PREFIX,
    queues: ['overseer'],
    handlers: {
      'overseer.scan': ({ platformId }, { job }) => scanPlatform(ctx, platformId, job.id),
      'overseer.remediate': (payload) => remediate(ctx, payload),
      'alert.webhook': (payload, { signal }) => deliverWebhook(ctx, payload, signal),
    },
    concurrency: env.WORKER_CONCURRENCY,
    shutdownMs: env.WORKER_SHUTDOWN_SECONDS * 1000,
    logger,
  });
  await upsertScanSchedulers(backing.producer, [DEFAULT_PLATFORM], env.OVERSEER_SCAN_SECONDS * 1000);
  closeOnSignals(async () => {
    await workers.close();
    metricsServer?.close();
    pve.close();
    await backing.close();
  }, logger);
  const address = metricsServer?.address();
  logger.info(
    {
      pid: process.pid,
      replica: ctx.settings.replica,
      metricsPort: typeof address === 'object' ? address?.port : undefined,
    },
    'overseer ready',
  );
  // Printed whatever the log level: launchers and tests wait for this line.
  process.stdout.write(`overseer ready (pid ${process.pid})\n`);
}

main().catch(exitWhenUnavailable('overseer', logger));
