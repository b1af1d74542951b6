import { hostname } from 'node:os';
import { parseSecretKey } from '@glassdome/db';
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
import { OutboundPolicy } from './outbound';
import { redriveStuck } from './redrive';
import { remediate } from './remediate';
import { scanPlatform } from './scan';
import { keepSchedulers, upsertSchedulers } from './scheduler';
import { deliverWebhook, WebhookTargets } from './webhook';

const env = readEnv();
const logger = createLogger({ name: 'overseer', level: env.LOG_LEVEL, format: env.LOG_FORMAT });

/** Webhook URLs are sealed in Postgres at start, so jobs carry ids only: that needs the secret key. */
async function webhookTargets(db: Parameters<typeof WebhookTargets.register>[0]) {
  if (env.OVERSEER_WEBHOOK_URLS.length === 0) return undefined;
  if (!env.GLASSDOME_SECRET_KEY) {
    process.stderr.write(
      'overseer: OVERSEER_WEBHOOK_URLS needs GLASSDOME_SECRET_KEY (webhook targets are sealed in Postgres)\n',
    );
    process.exit(78);
  }
  const policy = new OutboundPolicy(env.OVERSEER_WEBHOOK_ALLOW_PRIVATE);
  return WebhookTargets.register(db, parseSecretKey(env.GLASSDOME_SECRET_KEY), env.OVERSEER_WEBHOOK_URLS, policy);
}

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
    webhooks: await webhookTargets(backing.db),
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
