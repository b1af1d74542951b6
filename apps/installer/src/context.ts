import type { Db } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import type { Admission, Proxmox, VmidAllocator } from '@glassdome/proxmox';
import type { Producer } from '@glassdome/queue';
import type { GuestKeys } from '@glassdome/runtime';
import type { SshPool } from '@glassdome/ssh';
import type { InstallerEnv } from './env';

/** What every installer handler works with; built once per process in main.ts. */
export interface InstallerContext {
  env: InstallerEnv;
  db: Db;
  producer: Producer;
  pve: Proxmox;
  vmids: VmidAllocator;
  admission: Admission;
  ssh: SshPool;
  /** The key each VM is logged into with: its lab copy's, or the installation's. */
  guestKeys: GuestKeys;
  logger: Logger;
}

/**
 * The context one job works with: every Proxmox call and wait and every SSH command and transfer
 * stops when `signal` fires (the job's timeout, lost lock or shutdown, or its VM no longer wanted),
 * killing a remote command in flight.
 */
export function boundTo(ctx: InstallerContext, signal: AbortSignal): InstallerContext {
  return { ...ctx, pve: ctx.pve.withSignal(signal), ssh: ctx.ssh.withSignal(signal) };
}
