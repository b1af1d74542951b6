import { createLogger } from '@glassdome/logger';
import { createProxmox } from '@glassdome/proxmox';
import { closeOnSignals, createRedis, type QueueName, startWorkers } from '@glassdome/queue';
import {
  connectBackingServices,
  ensurePlatform,
  exitWhenUnavailable,
  nodeSshTarget,
  proxmoxConfigFrom,
} from '@glassdome/runtime';
import { SshPool } from '@glassdome/ssh';
import type { GatewayContext } from './context';
import { createTemplate } from './create-template';
import { readEnv } from './env';
import { grantPermission } from './grant-permission';
import { createLabNetwork } from './network';

const env = readEnv();
const logger = createLogger({ name: 'gateway', level: env.LOG_LEVEL, format: env.LOG_FORMAT });

async function main(): Promise<void> {
  const node = await nodeSshTarget(env);
  const backing = await connectBackingServices(env);
  await ensurePlatform(backing.db, env);
  const pve = createProxmox(proxmoxConfigFrom(env), logger);
  const ctx: GatewayContext = {
    env,
    db: backing.db,
    producer: backing.producer,
    pve,
    ssh: new SshPool(),
    node,
    logger,
  };
  const workers = startWorkers({
    connect: () => createRedis(env.REDIS_URL, 'worker'),
    prefix: env.QUEUE_PREFIX,
    queues: env.GATEWAY_QUEUES.split(',').map((name) => name.trim()) as QueueName[],
    handlers: {
      'template.create': ({ templateId }) => createTemplate(ctx, templateId),
      'permission.grant': (job) => grantPermission(ctx, job),
      'network.create': ({ labId, taskId }, context) => createLabNetwork(ctx, labId, taskId, context),
    },
    concurrency: env.WORKER_CONCURRENCY,
    shutdownMs: env.WORKER_SHUTDOWN_SECONDS * 1000,
    lockMs: env.WORKER_LOCK_SECONDS * 1000,
    logger,
  });
  closeOnSignals(async () => {
    await workers.close();
    ctx.ssh.close();
    pve.close();
    await backing.close();
  }, logger);
  logger.info({ pid: process.pid }, 'gateway ready');
  // Printed whatever the log level: launchers and tests wait for this line.
  process.stdout.write(`gateway ready (pid ${process.pid})\n`);
}

main().catch(exitWhenUnavailable('gateway', logger));
