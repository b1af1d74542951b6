/**
 * Each platform's scan and re-drive sweep are BullMQ job schedulers. Every replica upserts the same
 * scheduler ids, so N replicas still produce one job per period, and each job runs on one worker.
 * Schedulers live in Redis: a Redis that comes back empty has none, so every replica upserts them
 * again whenever its connection is ready again and once a minute besides.
 */
import type { Logger } from '@glassdome/logger';
import { type JobName, jobOptions, type Producer } from '@glassdome/queue';

export function scanSchedulerId(platformId: string): string {
  return `overseer.scan.${platformId}`;
}

export function redriveSchedulerId(platformId: string): string {
  return `overseer.redrive.${platformId}`;
}

export interface SchedulePeriods {
  scanMs: number;
  redriveMs: number;
}

async function upsert(producer: Producer, id: string, name: JobName, platformId: string, everyMs: number) {
  const { attempts, backoff } = jobOptions(name);
  await producer.queues.overseer.upsertJobScheduler(
    id,
    { every: everyMs },
    {
      name,
      data: { platformId },
      // Many and alike: keep a bounded tail of them, not a week of history.
      opts: { attempts, backoff, removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } },
    },
  );
}

export async function upsertSchedulers(producer: Producer, platformIds: string[], periods: SchedulePeriods) {
  await Promise.all(
    platformIds.flatMap((platformId) => [
      upsert(producer, scanSchedulerId(platformId), 'overseer.scan', platformId, periods.scanMs),
      upsert(producer, redriveSchedulerId(platformId), 'overseer.redrive', platformId, periods.redriveMs),
    ]),
  );
}

/** Keeps the schedulers in Redis (see above); returns what stops it. */
export function keepSchedulers(
  producer: Producer,
  platformIds: string[],
  periods: SchedulePeriods,
  logger: Logger,
  everyMs = 60_000,
): () => void {
  const again = () =>
    upsertSchedulers(producer, platformIds, periods).catch((error: unknown) =>
      logger.debug({ err: error }, 'schedulers not upserted (Redis away); trying again later'),
    );
  producer.connection.on('ready', again);
  const timer = setInterval(again, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    producer.connection.off('ready', again);
  };
}
