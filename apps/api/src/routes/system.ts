/**
 * `GET /system/status`: the stack's health as one answer, for `glassdome status` and dashboards — the
 * backing services as this API sees them, each queue's backlog and the workers connected to it, and
 * when the overseer last finished a scan. Any role may read it; it holds no secret.
 */
import { listRecentEventsOfKind } from '@glassdome/db';
import { QUEUES, type QueueName } from '@glassdome/queue';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context';
import { parseInput } from '../http/validate';
import { emptyQuery } from '../schemas';

/** The event kind the overseer appends after each scan (apps/overseer/src/scan.ts, SCAN_EVENT). */
const SCAN_EVENT = 'overseer.scan.completed';

/** Bound on each probe, so a hung Redis or Postgres makes the answer say so instead of hanging it. */
const PROBE_TIMEOUT_MS = 2_000;

const count = z.number().int().min(0);

export const systemStatusResponse = z.object({
  /** `ok` when Redis and Postgres answer and every queue has at least one worker; `degraded` otherwise. */
  status: z.enum(['ok', 'degraded']),
  redis: z.object({ reachable: z.boolean() }),
  postgres: z.object({ reachable: z.boolean() }),
  /** One entry per queue; empty when Redis cannot be reached. */
  queues: z.array(
    z.object({
      name: z.enum(Object.values(QUEUES) as [QueueName, ...QueueName[]]),
      waiting: count,
      active: count,
      delayed: count,
      failed: count,
      /** Worker connections consuming this queue (BullMQ names each after its queue). */
      workers: count,
    }),
  ),
  overseer: z.object({
    /** The newest scan record; null when no scan has finished yet (or Postgres cannot be reached). */
    lastScan: z
      .object({
        platformId: z.string(),
        replica: z.string(),
        startedAt: z.string(),
        finishedAt: z.string(),
        vms: count,
        findings: count,
        /** The cluster's nodes as that scan saw them. */
        nodes: z.array(z.object({ node: z.string(), online: z.boolean() })),
      })
      .nullable(),
  }),
});

export type SystemStatus = z.infer<typeof systemStatusResponse>;

function within<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), PROBE_TIMEOUT_MS).unref()),
  ]);
}

async function queueStatus(ctx: ApiContext): Promise<SystemStatus['queues']> {
  return Promise.all(
    Object.values(QUEUES).map(async (name) => {
      const queue = ctx.producer.queues[name];
      const [counts, workers] = await Promise.all([
        queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
        queue.getWorkersCount(),
      ]);
      return {
        name,
        // BullMQ keeps jobs with a priority in their own list; to a reader they are waiting all the same.
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
        workers,
      };
    }),
  );
}

/** The newest scan record; its query doubles as the Postgres probe. */
async function lastScan(ctx: ApiContext): Promise<SystemStatus['overseer']['lastScan']> {
  const [event] = await listRecentEventsOfKind(ctx.db, SCAN_EVENT, new Date(0), 1);
  const data = event?.data as Record<string, unknown> | null | undefined;
  if (!event || !data) return null;
  return {
    platformId: String(data.platformId ?? ''),
    replica: String(data.replica ?? ''),
    startedAt: String(data.startedAt ?? ''),
    finishedAt: String(data.finishedAt ?? new Date(event.at).toISOString()),
    vms: Number(data.vms ?? 0),
    findings: Number(data.findings ?? 0),
    nodes: Array.isArray(data.nodes)
      ? data.nodes.map((node: { node?: unknown; online?: unknown }) => ({
          node: String(node.node),
          online: node.online === true,
        }))
      : [],
  };
}

export function systemRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/system/status', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const [queues, scan] = await Promise.allSettled([within(queueStatus(ctx)), within(lastScan(ctx))]);
    const redisUp = queues.status === 'fulfilled';
    const postgresUp = scan.status === 'fulfilled';
    const queueList = redisUp ? queues.value : [];
    const healthy = redisUp && postgresUp && queueList.every((queue) => queue.workers > 0);
    // Parsed on the way out: the OpenAPI document shows this schema, so the answer must match it.
    res.json(
      systemStatusResponse.parse({
        status: healthy ? 'ok' : 'degraded',
        redis: { reachable: redisUp },
        postgres: { reachable: postgresUp },
        queues: queueList,
        overseer: { lastScan: postgresUp ? scan.value : null },
      }),
    );
  });
  return router;
}
