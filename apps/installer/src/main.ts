import { openConnections, PostgresVmidLeaseStore } from '@glassdome/db';
import { settleLab } from '@glassdome/lab-run';
import { createLogger } from '@glassdome/logger';
import { Admission, createProxmox, VmidAllocator } from '@glassdome/proxmox';
import { createRedis, type Handlers } from '@glassdome/queue';
import {
  connectBackingServices,
  ensureGuestKey,
  ensurePlatform,
  exitWhenUnavailable,
  GuestKeys,
  proxmoxConfigFrom,
  serveQueues,
} from '@glassdome/runtime';
import { SshPool } from '@glassdome/ssh';
import type { InstallerContext } from './context';
import { readEnv } from './env';
import { destroyLab } from './jobs/lab-destroy';
import { releaseCancelledVms } from './jobs/lab-release';
import { revertLab } from './jobs/lab-revert';
import { deleteSnapshots, takeSnapshots } from './jobs/lab-snapshot';
import { runLabVmTask } from './jobs/lab-task';
import { runTestingMode } from './jobs/lab-testing';
import { restoreFirewall, reverifyLab } from './jobs/lab-watch';
import { endingOperation } from './jobs/operation-end';
import { fillWarmPool, handOverClaim, prewarmPool } from './jobs/pool';
import { deployVm } from './jobs/vm-deploy';
import { destroyVm } from './jobs/vm-destroy';

const env = readEnv();
const logger = createLogger({ name: 'installer', level: env.LOG_LEVEL, format: env.LOG_FORMAT });

async function main(): Promise<void> {
  const backing = await connectBackingServices(env);
  await ensurePlatform(backing.db, env);
  // Its jobs run side by side (WORKER_CONCURRENCY of them) and a burst of them takes as many pooled
  // connections as the pool holds: opened now rather than one by one under the first jobs.
  await openConnections(backing.db, env.WORKER_CONCURRENCY);
  const pve = createProxmox(proxmoxConfigFrom(env), logger);
  const admissionRedis = createRedis(env.REDIS_URL, 'worker');
  const ctx: InstallerContext = {
    env,
    db: backing.db,
    producer: backing.producer,
    pve,
    vmids: new VmidAllocator({
      leases: new PostgresVmidLeaseStore(backing.db),
      cluster: pve.cluster,
      range: { min: env.VMID_MIN, max: env.VMID_MAX },
    }),
    admission: new Admission({
      redis: admissionRedis,
      prefix: env.QUEUE_PREFIX,
      limits: { fullClonesPerStorage: env.CLONE_SLOTS_PER_STORAGE, operationsPerNode: env.OPS_PER_NODE },
    }),
    ssh: new SshPool(),
    guestKeys: new GuestKeys(backing.db, env, await ensureGuestKey(backing.db, env)),
    logger,
  };
  if (!ctx.guestKeys.perCopy) {
    logger.warn('GLASSDOME_SECRET_KEY is not set: every lab copy is logged into with the installation guest key');
  }
  const handlers: Handlers = {
    'vm.deploy': ({ vmId }, context) => deployVm(ctx, vmId, context),
    'vm.destroy': ({ vmId }, context) => destroyVm(ctx, vmId, context),
    'lab.task': ({ labId, taskId }, context) => runLabVmTask(ctx, labId, taskId, context),
    'lab.run': ({ labId }) => settleLab(ctx, labId),
    'lab.destroy': ({ labId }, context) => destroyLab(ctx, labId, context),
    'lab.snapshot': ({ operationId }, context) =>
      endingOperation(ctx, operationId, context, () => takeSnapshots(ctx, operationId, context)),
    'lab.snapshot.delete': ({ operationId }, context) =>
      endingOperation(ctx, operationId, context, () => deleteSnapshots(ctx, operationId, context)),
    'lab.revert': ({ operationId }, context) =>
      endingOperation(ctx, operationId, context, () => revertLab(ctx, operationId, context)),
    'lab.testing': ({ operationId }, context) =>
      endingOperation(ctx, operationId, context, () => runTestingMode(ctx, operationId, context)),
    'lab.claim': ({ operationId }, context) =>
      endingOperation(ctx, operationId, context, () => handOverClaim(ctx, operationId, context)),
    'lab.release-vms': ({ labId }, context) => releaseCancelledVms(ctx, labId, context),
    'pool.fill': ({ poolId }) => fillWarmPool(ctx, poolId),
    'pool.prewarm': ({ poolId, size }) => prewarmPool(ctx, poolId, size),
    'vm.firewall': ({ vmId }) => restoreFirewall(ctx, vmId),
    'lab.verify': ({ labId }, context) => reverifyLab(ctx, labId, context),
  };
  serveQueues('installer', env, logger, {
    queues: env.INSTALLER_QUEUES,
    handlers,
    release: async () => {
      ctx.ssh.close();
      pve.close();
      ctx.admission.close();
      admissionRedis.disconnect();
      await backing.close();
    },
  });
}

main().catch(exitWhenUnavailable('installer', logger));
