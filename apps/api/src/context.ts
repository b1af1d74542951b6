import type { ChangeFeed, Db } from '@glassdome/db';
import type { Producer } from '@glassdome/queue';
import type { OutboxRelay } from '@glassdome/runtime';
import type { DeployBatcher } from './services/deploy-batch';
import type { Quotas } from './services/quotas';

/** What every route needs: the database, the queues, and where things are placed by default. */
export interface ApiContext {
  db: Db;
  producer: Producer;
  /** Sends the intents requests write to the outbox. */
  relay: OutboxRelay;
  /** Writes concurrent standalone VM deploys together (group commit). */
  deploys: DeployBatcher;
  /** Platform new VMs, labs and templates belong to (one Proxmox cluster today). */
  platformId: string;
  /** Node standalone VMs and templates go to unless a request names another. */
  node: string;
  /** Quotas of a project that has no overrides (QUOTA_* variables). */
  quotas: Quotas;
  /** Templates the operator configured per OS (TEMPLATE_VMIDS): clonable without being registered. */
  templateVmids: ReadonlyMap<string, number>;
  /** Guests' SSH port, shown with each VM's address. */
  guestSshPort: number;
  /** New events and lab status changes, one feed for every event stream of this process. */
  feed: ChangeFeed;
}
