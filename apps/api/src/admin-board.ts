import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Producer } from '@glassdome/queue';
import { idsOnly } from './routes/jobs';

/**
 * Bull Board over every queue. Job data is shown as ids only and return values not at all, so the
 * board cannot display a secret even if one slipped into a payload. Mounted behind admin auth.
 */
export function adminBoard(producer: Producer, basePath: string) {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  const queues = Object.values(producer.queues).map((queue) => {
    const adapter = new BullMQAdapter(queue);
    adapter.setFormatter('data', idsOnly);
    adapter.setFormatter('returnValue', () => '(hidden)');
    return adapter;
  });
  createBullBoard({ queues, serverAdapter });
  return serverAdapter.getRouter();
}
