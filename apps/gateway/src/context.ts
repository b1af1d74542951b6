import type { Db } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import type { Proxmox } from '@glassdome/proxmox';
import type { Producer } from '@glassdome/queue';
import type { SshPool, SshTarget } from '@glassdome/ssh';
import type { GatewayEnv } from './env';

export interface GatewayContext {
  env: GatewayEnv;
  db: Db;
  producer: Producer;
  pve: Proxmox;
  ssh: SshPool;
  /** The Proxmox node's SSH daemon, as root, host key pinned. */
  node: SshTarget;
  logger: Logger;
}
