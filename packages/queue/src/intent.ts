/**
 * What can be asked of the queues through the outbox: one job of the catalog, or the start of a
 * lab flow's run. Intents are stored as JSON rows and checked again when they are relayed (the
 * database is not trusted to hold only what we wrote).
 */
import { z } from 'zod';
import { JOBS, type JobName, type JobPayload, parsePayload, type QueueName } from './catalog';
import { type FailurePolicy, type LabFlowTask, startLabFlow } from './lab-flow';
import { jobOptions, type Producer } from './producer';

export type EnqueueIntent =
  | { kind: 'job'; name: JobName; payload: unknown; jobId: string }
  | {
      kind: 'lab-flow';
      labId: string;
      requestId?: string | undefined;
      policy: FailurePolicy;
      rootTasks: LabFlowTask[];
      run: number;
    };

const intentSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('job'),
    name: z.enum(Object.keys(JOBS) as [JobName, ...JobName[]]),
    payload: z.unknown(),
    jobId: z.string().min(1).max(300),
  }),
  z.object({
    kind: z.literal('lab-flow'),
    labId: z.string().uuid(),
    requestId: z.string().max(128).optional(),
    policy: z.enum(['fail', 'keep']),
    rootTasks: z.array(
      z.object({
        id: z.string().min(1).max(300),
        kind: z.enum(['network', 'vm-provision', 'vm-configure', 'isolation']),
      }),
    ),
    run: z.number().int().min(0),
  }),
]);

/** A job intent, with its payload checked against the catalog now (so a bad one never reaches the outbox). */
export function jobIntent<N extends JobName>(name: N, payload: JobPayload<N>, jobId: string): EnqueueIntent {
  return { kind: 'job', name, payload: parsePayload(name, payload), jobId };
}

export function parseIntent(value: unknown): EnqueueIntent {
  return intentSchema.parse(value) as EnqueueIntent;
}

/**
 * Sends intents to Redis: plain jobs in one `addBulk` per queue, flows one by one. Every job id is
 * deterministic, so sending an intent twice (a relay that crashed after sending, before deleting) adds
 * nothing the second time.
 */
export async function sendIntents(producer: Producer, intents: EnqueueIntent[]): Promise<void> {
  const byQueue = new Map<QueueName, { name: string; data: unknown; opts: ReturnType<typeof jobOptions> }[]>();
  const flows: Promise<void>[] = [];
  for (const intent of intents) {
    if (intent.kind === 'lab-flow') {
      flows.push(startLabFlow(producer, intent));
      continue;
    }
    const queue = JOBS[intent.name].queue;
    const jobs = byQueue.get(queue) ?? [];
    jobs.push({
      name: intent.name,
      data: parsePayload(intent.name, intent.payload),
      opts: jobOptions(intent.name, { jobId: intent.jobId }),
    });
    byQueue.set(queue, jobs);
  }
  await Promise.all([...[...byQueue].map(([queue, jobs]) => producer.queues[queue].addBulk(jobs)), ...flows]);
}
