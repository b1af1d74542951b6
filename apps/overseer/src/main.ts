import { hostname } from 'node:os';
import { createLogger } from '@glassdome/logger';
import { createProxmox } from '@glassdome/proxmox';
import {
  connectBackingServices,
  DEFAULT_PLATFORM,
  ensurePlatform,
  exitWhenUnavailable,
  OutboxRelay,
  proxmoxConfigFrom,
  serveQueues,
} from '@glassdome/runtime';
import { type OverseerContext, settingsFromEnv } from './context';
import { readEnv } from './env';
import { OverseerMetrics } from './metrics';
import { redriveStuck } from './redrive';
import { remediate } from './remediate';
import { scanPlatform } from './scan';
import { keepSchedulers, upsertSchedulers } from './scheduler';
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
    // Sends what the overseer writes to the outbox, and whatever a crashed API committed but never sent.
    relay: new OutboxRelay(backing.db, backing.producer, logger).start(),
    pve,
    logger,
    settings: settingsFromEnv(env, `${hostname()}:${process.pid}`),
    metrics: new OverseerMetrics(),
  };
  const metricsServer =
    env.OVERSEER_METRICS_PORT === undefined
      ? undefined
      : await ctx.metrics.serve(env.OVERSEER_METRICS_PORT, env.OVERSEER_METRICS_HOST);
  const periods = { scanMs: env.OVERSEER_SCAN_SECONDS * 1000, redriveMs: env.OVERSEER_REDRIVE_SECONDS * 1000 };
  await upsertSchedulers(backing.producer, [DEFAULT_PLATFORM], periods);
  const stopSchedulers = keepSchedulers(backing.producer, [DEFAULT_PLATFORM], periods, logger);
  const address = metricsServer?.address();
  serveQueues('overseer', env, logger, {
    queues: ['overseer'],
    handlers: {
      'overseer.scan': ({ platformId }, { job }) => scanPlatform(ctx, platformId, job.id),
      'overseer.redrive': ({ platformId }) => redriveStuck(ctx, platformId),
      'overseer.remediate': (payload, { signal }) => remediate(ctx, payload, signal),
      'alert.webhook': (payload, { signal }) => deliverWebhook(ctx, payload, signal),
    },
    release: async () => {
      stopSchedulers();
      await ctx.relay.stop();
      metricsServer?.close();
      pve.close();
      await backing.close();
    },
    ready: { replica: ctx.settings.replica, metricsPort: typeof address === 'object' ? address?.port : undefined },
  });
}

main().catch(exitWhenUnavailable('overseer', logger));
