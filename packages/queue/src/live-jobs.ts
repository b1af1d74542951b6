import type { Job, JobType, Queue } from 'bullmq';

/** The states in which a job may still run: what "a live job" means to a tear-down or a re-drive. */
export const LIVE_JOB_STATES: JobType[] = ['active', 'wait', 'delayed', 'prioritized', 'waiting-children'];

/** Every job of `queue` that may still run (BullMQ can hand back a hole for a job removed meanwhile). */
export async function liveJobs(queue: Queue): Promise<Job[]> {
  const jobs = await queue.getJobs(LIVE_JOB_STATES);
  return jobs.filter((job): job is Job => Boolean(job));
}

/**
 * How a job ended for someone waiting on it: `completed` with what its handler returned, `failed`
 * with its reason, `gone` when no such job exists (never made, or removed).
 */
export type JobEnd = { state: 'completed'; value: unknown } | { state: 'failed'; reason: string } | { state: 'gone' };

/**
 * Polls `jobId` in `queue` until it completes, fails or is gone, backing off from 100 ms to
 * `maxDelayMs` (2 s unless given).
 * Returns `undefined` when `timeoutMs` passes first; throws when `signal` aborts.
 */
export async function waitForJobEnd(
  queue: Queue,
  jobId: string,
  options: { signal: AbortSignal; timeoutMs?: number; maxDelayMs?: number },
): Promise<JobEnd | undefined> {
  const deadline = Date.now() + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
  const maxDelay = options.maxDelayMs ?? 2_000;
  for (let delay = Math.min(100, maxDelay); ; delay = Math.min(delay * 1.5, maxDelay)) {
    options.signal.throwIfAborted();
    // Its state alone each round (one script call); the job itself is read only once it has ended.
    const state = await queue.getJobState(jobId);
    if (state === 'completed') return { state, value: (await queue.getJob(jobId))?.returnvalue };
    if (state === 'failed') {
      const failed = await queue.getJob(jobId);
      return { state, reason: failed?.failedReason || 'unknown reason' };
    }
    if (state === 'unknown') return { state: 'gone' };
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
  }
}
