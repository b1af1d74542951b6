import type { Db } from '@glassdome/db';
import type { Producer } from '@glassdome/queue';
import type { OutboxRelay } from '@glassdome/runtime';

/** What every route needs: the database, the queues, and where things are placed by default. */
export interface ApiContext {
  db: Db;
  producer: Producer;
  /** Sends the intents requests write to the outbox. */
  relay: OutboxRelay;
  /** Platform new VMs, labs and templates belong to (one Proxmox cluster today). */
  platformId: string;
  /** Node standalone VMs and templates go to unless a request names another. */
  node: string;
}
