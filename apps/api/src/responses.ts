/**
 * Schemas of the answers the web UI reads, for the OpenAPI document (and so for the UI's generated
 * types). They describe what present.ts and the routes write; `apps/web/test/ui.e2e.test.ts` checks
 * real answers against them. Objects are open (`z.looseObject`): a field added to an answer later is
 * not a breaking change for a reader.
 */
import { z } from 'zod';

const time = z.string().describe('ISO 8601');
const nullableTime = time.nullable();

export const stepAnswer = z.looseObject({
  name: z.string(),
  status: z.string(),
  attempts: z.number(),
  queuedAt: nullableTime,
  startedAt: nullableTime,
  finishedAt: nullableTime,
  durationMs: z.number().optional(),
  error: z.string().optional(),
});

export const vmAnswer = z.looseObject({
  id: z.string(),
  name: z.string(),
  os: z.string(),
  status: z.string(),
  labId: z.string().nullable(),
  copy: z.number().nullable(),
  node: z.string().nullable(),
  vmid: z.number().nullable(),
  ip: z.string().nullable(),
  cpus: z.number().optional(),
  memoryMiB: z.number().optional(),
  diskGiB: z.number().optional(),
  observedStatus: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: time,
  updatedAt: time,
  steps: z.array(stepAnswer),
});

export const labAnswer = z.looseObject({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  copies: z.number(),
  onFailure: z.string(),
  expiresAt: nullableTime,
  error: z.string().nullable(),
  createdAt: time,
  updatedAt: time,
});

export const labDetailAnswer = labAnswer.extend({
  vms: z.array(vmAnswer),
  steps: z.array(stepAnswer),
  /** When the lab was first ready (its `initial` snapshot, what a reset returns to, was taken then). */
  firstReadyAt: nullableTime.optional(),
  /** Testing mode while it lasts: `{since, until, egress, networks?, snapshot}`; null when off. */
  testing: z.unknown().optional(),
  /** Where it came from: `{template | spec, version?, parameters, traineeVms}`; null for a spec given whole. */
  source: z.unknown().optional(),
  /** The warm pool it was deployed for and when it was claimed. */
  pool: z.object({ poolId: z.string(), claimedAt: nullableTime }).nullable().optional(),
});

export const listOf = <T extends z.ZodType>(item: T) =>
  z.looseObject({
    items: z.array(item),
    limit: z.number().optional(),
    offset: z.number().optional(),
    /** Pass as `cursor` to read the next page; null on the last page. Lists that are not paged leave it out. */
    nextCursor: z.string().nullable().optional(),
  });

export const alertAnswer = z.looseObject({
  id: z.string(),
  kind: z.string(),
  severity: z.string(),
  subject: z.string(),
  message: z.string(),
  state: z.string(),
  first_seen_at: time,
  last_seen_at: time,
  acknowledged_at: nullableTime,
  acknowledged_by: z.string().nullable(),
  resolved_at: nullableTime,
});

export const templateAnswer = z.looseObject({
  id: z.string(),
  os: z.string(),
  node: z.string(),
  vmid: z.number(),
  name: z.string(),
  status: z.string(),
  error: z.string().nullable(),
});

export const apiKeyAnswer = z.looseObject({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  role: z.string(),
  createdAt: time,
  lastUsedAt: nullableTime,
  revokedAt: nullableTime,
});

export const createdKeyAnswer = z.looseObject({
  id: z.string(),
  name: z.string(),
  role: z.string(),
  prefix: z.string(),
  /** The new key, shown in this answer only. */
  key: z.string(),
});

export const catalogEntryAnswer = z.looseObject({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  vmCount: z.number(),
});

export const accepted = z.looseObject({ id: z.string(), status: z.string(), jobId: z.string().optional() });

export const labDryRunAnswer = z.looseObject({
  dryRun: z.literal(true),
  spec: z.record(z.string(), z.unknown()),
  tasks: z.array(
    z.looseObject({
      id: z.string(),
      kind: z.string(),
      copy: z.number(),
      vmName: z.string().optional(),
      specVmName: z.string().optional(),
      networkName: z.string().optional(),
      dependsOn: z.array(z.string()),
    }),
  ),
  /** `[from, to]`: `to` waits for `from`. */
  edges: z.array(z.tuple([z.string(), z.string()])),
  criticalPath: z.looseObject({ estimatedMs: z.number(), tasks: z.array(z.string()) }),
});
