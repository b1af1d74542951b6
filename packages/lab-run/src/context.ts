import type { Db } from '@glassdome/db';
import type { Producer } from '@glassdome/queue';

/** What the lab lifecycle needs: the database it records state in and the queues it drives. */
export interface LabRunContext {
  db: Db;
  producer: Producer;
}
