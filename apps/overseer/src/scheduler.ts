/**
 * Each platform's scan is a BullMQ job scheduler. Every replica upserts the same scheduler id at start,
 * so N replicas still produce one job per period, and each job runs on one worker.
 */
import { jobOptions, type Producer } from '@glassdome/queue';

export function scanSchedulerId(platformId: string): string {
  return `overseer.scan.${platformId}`;
}

export async function upsertScanSchedulers(producer: Producer, platformIds: string[], everyMs: number): Promise<void> {
  const queue = producer.queues.overseer;
  const { attempts, backoff } = jobOptions('overseer.scan');
  await Promise.all(
    platformIds.map((platformId) =>
      queue.upsertJobScheduler(
        scanSchedulerId(platformId),
        { every: everyMs },
        {
          name: 'overseer.scan',
          data: { platformId },
          // Scans are many and alike: keep a bounded tail of them, not a week of history.
          opts: { attempts, backoff, removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } },
        },
      ),
    ),
  );
}
