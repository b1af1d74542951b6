import { createLogger } from '@glassdome/logger';
import { Admission, createProxmox, VmidAllocator } from '@glassdome/proxmox';
import { closeOnSignals, createRedis, type Handlers, type QueueName, startWorkers } from '@glassdome/queue';
import {
  connectBackingServices,
  ensureGuestKey,
  ensurePlatform,
  exitWhenUnavailable,
  proxmoxConfigFrom,
} from '@glassdome/runtime';
import { PostgresHostKeyStore, SshPool } from '@glassdome/ssh';
import type { InstallerContext } from './context';
import { deployVm } from './deploy-vm';
import { destroyVm } from './destroy-vm';
import { readEnv } from './env';
import { labHandlers } from './labs/handlers';

const env = readEnv();
const logger = createLogger({ name: 'installer', level: env.LOG_LEVEL, format: env.LOG_FORMAT });

async function main(): Promise<void> {
  const backing = await connectBackingServices(env);
  await ensurePlatform(backing.db, env);
  const pve = createProxmox(proxmoxConfigFrom(env), logger);
  const admissionRedis = createRedis(env.REDIS_URL, 'worker');
  const ctx: InstallerContext = {
    env,
    db: backing.db,
    producer: backing.producer,
    pve,
    vmids: new VmidAllocator({ db: backing.db, cluster: pve.cluster, range: { min: env.VMID_MIN, max: env.VMID_MAX } }),
    admission: new Admission({
      redis: admissionRedis,
      prefix: env.QUEUE_PREFIX,
      limits: { fullClonesPerStorage: env.CLONE_SLOTS_PER_STORAGE, operationsPerNode: env.OPS_PER_NODE },
    }),
    ssh: new SshPool(),
    hostKeys: new PostgresHostKeyStore(backing.db),
    guestKey: await ensureGuestKey(backing.db, env),
    logger,
  };
  const handlers: Handlers = {
    'vm.deploy': ({ vmId }, context) => deployVm(ctx, vmId, context),
    'vm.destroy': ({ vmId }) => destroyVm(ctx, vmId),
    ...labHandlers(ctx),
  };
  const workers = startWorkers({
    connect: () => createRedis(env.REDIS_URL, 'worker'),
    prefix: env.QUEUE_PREFIX,
    queues: env.INSTALLER_QUEUES.split(',').map((name) => name.trim()) as QueueName[],
    handlers,
    concurrency: env.WORKER_CONCURRENCY,
    shutdownMs: env.WORKER_SHUTDOWN_SECONDS * 1000,
    lockMs: env.WORKER_LOCK_SECONDS * 1000,
    logger,
  });
  closeOnSignals(async () => {
    await workers.close();
    ctx.ssh.close();
    pve.close();
    admissionRedis.disconnect();
    await backing.close();
  }, logger);
  logger.info({ pid: process.pid }, 'installer ready');
  // Printed whatever the log level: launchers and tests wait for this line.
  process.stdout.write(`installer ready (pid ${process.pid})\n`);
}

main().catch(exitWhenUnavailable('installer', logger));
