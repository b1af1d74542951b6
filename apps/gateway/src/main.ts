import { createLogger } from '@glassdome/logger';
import { createProxmox } from '@glassdome/proxmox';
import {
  connectBackingServices,
  ensurePlatform,
  exitWhenUnavailable,
  nodeSshTarget,
  proxmoxConfigFrom,
  serveQueues,
} from '@glassdome/runtime';
import { SshPool, SshPoolClosedError } from '@glassdome/ssh';
import type { GatewayContext } from './context';
import { createTemplate } from './create-template';
import { readEnv } from './env';
import { firewallStatus } from './firewall-status';
import { grantPermission } from './grant-permission';
import {
  createLabNetwork,
  createNamedNetwork,
  deleteNamedNetwork,
  deleteUnleasedVnet,
  releaseLabNetworks,
} from './network';

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
  if (env.NETWORK_MODE === 'sdn') {
    // Every lab's network is made over SSH on the node (pvesh): its pooled connection (kept while
    // labs come, see SshPool's idleTimeoutMs) is opened now, not under the first lab's network job.
    // Not reaching the node now is no reason to stop: the jobs that need it report it.
    ctx.ssh.waitForSsh(node, { deadlineMs: 10_000 }).catch((error: unknown) => {
      if (error instanceof SshPoolClosedError) return;
      logger.warn({ err: error }, 'the node does not answer SSH yet; its network jobs will try again');
    });
  }
  serveQueues('gateway', env, logger, {
    queues: env.GATEWAY_QUEUES,
    handlers: {
      'template.create': ({ templateId }, context) => createTemplate(ctx, templateId, context),
      'permission.grant': (job) => grantPermission(ctx, job),
      'network.create': ({ labId, taskId }, context) => createLabNetwork(ctx, labId, taskId, context),
      'network.release': ({ labId }) => releaseLabNetworks(ctx, labId),
      'network.delete-vnet': ({ vnet }) => deleteUnleasedVnet(ctx, vnet),
      'network.named-create': ({ networkId }, context) => createNamedNetwork(ctx, networkId, context),
      'network.named-delete': ({ networkId }, context) => deleteNamedNetwork(ctx, networkId, context),
      'firewall.status': ({ nodes }, context) => firewallStatus(ctx, nodes, context.setAside?.bind(context)),
    },
    release: async () => {
      ctx.ssh.close();
      pve.close();
      await backing.close();
    },
  });
}

main().catch(exitWhenUnavailable('gateway', logger));
