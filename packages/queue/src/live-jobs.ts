import type { Job, JobType, Queue } from 'bullmq';

/** The states in which a job may still run: what "a live job" means to a tear-down or a re-drive. */
export const LIVE_JOB_STATES: JobType[] = ['active', 'wait', 'delayed', 'prioritized', 'waiting-children'];

/** Every job of `queue` that may still run (BullMQ can hand back a hole for a job removed meanwhile). */
export async function liveJobs(queue: Queue): Promise<Job[]> {
  const jobs = await queue.getJobs(LIVE_JOB_STATES);
  return jobs.filter((job): job is Job => Boolean(job));
}
