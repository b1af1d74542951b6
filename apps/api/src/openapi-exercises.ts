/**
 * The exercise routes in the OpenAPI document (snapshots, reverts, testing mode, TTL, rosters,
 * templates with parameters, saved specs, warm pools), from the schemas the routes validate with.
 */
import { z } from 'zod';
import {
  labPatchBody,
  labResetBody,
  labRevertBody,
  labSnapshotBody,
  labSpecBody,
  labTestingBody,
  poolClaimBody,
  poolCreateBody,
  poolPatchBody,
  poolScheduleBody,
  projectQuery,
  rosterQuery,
  snapshotTargetQuery,
  vmRevertBody,
  vmSnapshotBody,
} from './exercise-schemas';
import { operation, schemaOf } from './openapi-operation';

const when = z.string().describe('ISO time');

export const operationStarted = z.object({
  labId: z.string(),
  operationId: z.string(),
  jobId: z.string(),
  kind: z.string(),
  status: z.literal('queued'),
  vms: z.number().optional().describe('VMs it acts on'),
  links: z.object({ operation: z.string() }),
});

export const operationAnswer = z.object({
  id: z.string(),
  labId: z.string(),
  kind: z.enum(['snapshot', 'revert', 'delete-snapshot', 'testing-start', 'testing-stop', 'claim']),
  target: z.object({ kind: z.enum(['lab', 'copy', 'vm']), copy: z.number().optional(), vmId: z.string().optional() }),
  snapshot: z.string().nullable(),
  status: z.enum(['queued', 'running', 'done', 'failed']),
  progress: z.object({ done: z.number(), total: z.number() }),
  error: z.string().nullable(),
  requestedBy: z.string().nullable(),
  createdAt: when,
  startedAt: when.nullable(),
  finishedAt: when.nullable(),
});

export const snapshotAnswer = z.object({
  name: z.string(),
  scope: z.enum(['vm', 'copy', 'lab']),
  withRam: z.boolean(),
  description: z.string().nullable(),
  status: z.enum(['creating', 'ready', 'failed', 'deleting']),
  automatic: z.boolean().describe('initial (reset returns here) or taken by testing mode'),
  createdAt: when,
  copies: z.array(z.number()),
  vms: z.array(
    z.object({
      vmId: z.string(),
      name: z.string(),
      copy: z.number(),
      status: z.string(),
      error: z.string().nullable(),
    }),
  ),
});

export const rosterAnswer = z.object({
  labId: z.string(),
  name: z.string(),
  status: z.string(),
  copies: z.number(),
  expiresAt: when.nullable(),
  rows: z.array(
    z.object({
      copy: z.number().describe('from 0'),
      copyNumber: z.number().describe('from 1, as a class counts'),
      label: z.string(),
      vm: z.string(),
      vmId: z.string(),
      status: z.string(),
      os: z.string(),
      addresses: z.record(z.string(), z.string().nullable()).describe('network → address/prefix'),
      management: z.string().nullable(),
      ssh: z.object({
        host: z.string().nullable(),
        port: z.number(),
        user: z.string().nullable(),
        command: z.string().nullable(),
      }),
      sshKeys: z.array(
        z.object({ type: z.string(), fingerprint: z.string().nullable(), comment: z.string().nullable() }),
      ),
      traineeApiKeys: z.array(z.object({ id: z.string(), name: z.string(), prefix: z.string() })),
    }),
  ),
});

export const poolAnswer = z.object({
  id: z.string(),
  name: z.string(),
  project: z.string(),
  source: z.unknown(),
  size: z.number(),
  status: z.enum(['active', 'draining']),
  copies: z.object({ total: z.number(), ready: z.number(), byStatus: z.record(z.string(), z.number()) }),
  claimLatencyMs: z.object({
    samples: z.number(),
    p50: z.number().nullable(),
    max: z.number().nullable(),
    last: z.number().nullable(),
  }),
  createdAt: when,
  updatedAt: when,
  members: z
    .array(z.object({ labId: z.string(), name: z.string(), status: z.string(), readyAt: when.nullable() }))
    .optional(),
  recentClaims: z
    .array(
      z.object({ labId: z.string(), name: z.string(), claimedAt: when.nullable(), claimMs: z.number().nullable() }),
    )
    .optional(),
  schedules: z
    .array(
      z.object({
        id: z.string(),
        kind: z.enum(['cron', 'once']),
        size: z.number(),
        cron: z.string().optional(),
        tz: z.string().optional(),
        next: when.nullable().optional(),
      }),
    )
    .optional(),
});

export const claimAnswer = z.object({
  labId: z.string(),
  name: z.string(),
  project: z.string(),
  expiresAt: when,
  claimMs: z.number().describe('from the request to the copy handed over, keys on the guests'),
  keys: z
    .object({ operationId: z.string(), status: z.string(), vms: z.number(), error: z.string().nullable() })
    .nullable(),
  links: z.object({ lab: z.string(), roster: z.string() }),
});

export const templateDetailAnswer = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  spec: z.unknown().describe('the lab spec, as POST /labs takes it'),
  parameters: z.unknown().describe('each parameter with its default and bounds'),
  deploy: z.unknown(),
});

/** The exercise paths. */
export function exercisePaths(): Record<string, Record<string, ReturnType<typeof operation>>> {
  const id = ['id'];
  const started = (what: string) => ({ response: operationStarted, ok: [202, what] as [number, string] });
  return {
    '/labs/{id}/snapshots': {
      post: operation({
        summary: 'Snapshot the whole lab, one copy (`copy`) or one VM (`vmId`) at once, RAM optional',
        pathParams: id,
        body: schemaOf(labSnapshotBody),
        role: 'operator',
        ...started('the snapshot operation'),
      }),
      get: operation({
        summary: "The lab's snapshots by name, with their VMs (a trainee sees its copy's)",
        pathParams: id,
        response: z.object({ items: z.array(snapshotAnswer) }),
        ok: [200, 'snapshots'],
      }),
    },
    '/labs/{id}/snapshots/{name}': {
      delete: operation({
        summary: 'Delete a snapshot from the lab, a copy or a VM',
        pathParams: ['id', 'name'],
        query: snapshotTargetQuery as unknown as z.ZodObject,
        role: 'operator',
        ...started('the deletion'),
      }),
    },
    '/labs/{id}/revert': {
      post: operation({
        summary: 'Revert the lab, a copy or a VM to a snapshot: rolled back, started, verified, the lab ready again',
        pathParams: id,
        body: schemaOf(labRevertBody),
        role: 'operator',
        ...started('the revert (the lab is reverting meanwhile)'),
      }),
    },
    '/labs/{id}/reset': {
      post: operation({
        summary:
          'Revert to the initial snapshot (taken when the lab was first ready); a trainee key resets its own copy',
        pathParams: id,
        body: schemaOf(labResetBody),
        ...started('the revert'),
      }),
    },
    '/labs/{id}/operations': {
      get: operation({
        summary: "The lab's operations, newest first",
        pathParams: id,
        response: z.object({ items: z.array(operationAnswer) }),
        ok: [200, 'operations'],
      }),
    },
    '/labs/{id}/operations/{operationId}': {
      get: operation({
        summary: "One operation's progress and outcome",
        pathParams: ['id', 'operationId'],
        response: operationAnswer,
        ok: [200, 'the operation'],
      }),
    },
    '/labs/{id}/testing': {
      post: operation({
        summary: 'Testing mode: snapshot, then widen egress for a while (the policy comes back by itself)',
        pathParams: id,
        body: schemaOf(labTestingBody),
        role: 'operator',
        ...started('testing mode starting'),
      }),
      get: operation({ summary: 'Testing mode as it stands (null when off)', pathParams: id, ok: [200, 'testing'] }),
      delete: operation({
        summary: "End testing mode now: the lab's own policy back",
        pathParams: id,
        role: 'operator',
        ok: [202, 'the stop operation'],
      }),
    },
    '/labs/{id}/roster': {
      get: operation({
        summary: 'Class roster: one row per copy × VM with addresses, SSH command, keys (JSON, or CSV)',
        pathParams: id,
        query: rosterQuery,
        response: rosterAnswer,
        ok: [200, 'the roster (text/csv with Accept: text/csv or ?format=csv)'],
      }),
    },
    '/vms/{id}/snapshots': {
      post: operation({
        summary: 'Snapshot one lab VM',
        pathParams: id,
        body: schemaOf(vmSnapshotBody),
        role: 'operator',
        ...started('the snapshot'),
      }),
      get: operation({
        summary: "A lab VM's snapshots",
        pathParams: id,
        response: z.object({ items: z.array(snapshotAnswer) }),
        ok: [200, 'snapshots'],
      }),
    },
    '/vms/{id}/revert': {
      post: operation({
        summary: 'Revert one lab VM to a snapshot',
        pathParams: id,
        body: schemaOf(vmRevertBody),
        role: 'operator',
        ...started('the revert'),
      }),
    },
    '/vms/{id}/reset': {
      post: operation({
        summary: 'Reset one lab VM to its initial snapshot',
        pathParams: id,
        role: 'operator',
        ...started('the revert'),
      }),
    },
    '/lab-templates/{id}': {
      get: operation({
        summary: 'A catalog lab in full: its spec and the parameters it takes (defaults, bounds)',
        pathParams: id,
        response: templateDetailAnswer,
        ok: [200, 'the template'],
      }),
    },
    '/lab-specs': {
      get: operation({
        summary: "The project's saved specs (newest version of each)",
        query: projectQuery,
        ok: [200, 'specs'],
      }),
      post: operation({
        summary: 'Save a spec (JSON {name?, description?, spec} or YAML); an existing name gets a new version',
        body: schemaOf(labSpecBody),
        yaml: true,
        query: projectQuery,
        role: 'operator',
        ok: [201, '{id, project, name, version}'],
      }),
    },
    '/lab-specs/{name}': {
      get: operation({
        summary: 'The newest version, with the list of versions',
        pathParams: ['name'],
        ok: [200, 'the spec'],
      }),
      delete: operation({
        summary: 'Delete every version',
        pathParams: ['name'],
        role: 'operator',
        ok: [200, 'deleted'],
      }),
    },
    '/lab-specs/{name}/versions/{version}': {
      get: operation({
        summary: 'One version of a saved spec',
        pathParams: ['name', 'version'],
        ok: [200, 'the spec'],
      }),
    },
    '/pools': {
      get: operation({
        summary: 'Warm pools with their copies and claim latency',
        response: z.object({ items: z.array(poolAnswer) }),
        ok: [200, 'pools'],
      }),
      post: operation({
        summary: 'Create a warm pool of a catalog template or saved spec (with parameters), filled in the background',
        body: schemaOf(poolCreateBody),
        query: projectQuery,
        role: 'operator',
        response: poolAnswer,
        ok: [201, 'the pool'],
      }),
    },
    '/pools/{id}': {
      get: operation({
        summary: 'A pool: copies, recent claims, schedules',
        pathParams: id,
        response: poolAnswer,
        ok: [200, 'the pool'],
      }),
      patch: operation({
        summary: 'Resize or drain a pool (extra copies are torn down, missing ones deployed)',
        pathParams: id,
        body: schemaOf(poolPatchBody),
        role: 'operator',
        response: poolAnswer,
        ok: [200, 'the pool'],
      }),
      delete: operation({
        summary: 'Delete a pool and the copies it still holds',
        pathParams: id,
        role: 'operator',
        ok: [200, 'deleted'],
      }),
    },
    '/pools/{id}/claim': {
      post: operation({
        summary: 'Hand a ready copy to a project at once (name, TTL, trainee keys); the pool refills',
        pathParams: id,
        body: schemaOf(poolClaimBody),
        role: 'operator',
        response: claimAnswer,
        ok: [200, 'the claimed lab'],
      }),
    },
    '/pools/{id}/schedules': {
      get: operation({ summary: "The pool's pre-warm schedules", pathParams: id, ok: [200, 'schedules'] }),
      post: operation({
        summary: 'Schedule a pre-warm: the pool takes `size` at a cron time or once `at` (a BullMQ job scheduler)',
        pathParams: id,
        body: schemaOf(poolScheduleBody),
        role: 'operator',
        ok: [201, 'the schedule'],
      }),
    },
    '/pools/{id}/schedules/{scheduleId}': {
      delete: operation({
        summary: 'Remove a schedule',
        pathParams: ['id', 'scheduleId'],
        role: 'operator',
        ok: [200, 'removed'],
      }),
    },
  };
}

/** `PATCH /labs/{id}`, merged into that path's existing operations. */
export function labPatchOperation() {
  return operation({
    summary:
      "Change a lab's TTL (from now), within the project's TTL quota; the overseer tears it down at the new expiry",
    pathParams: ['id'],
    body: schemaOf(labPatchBody),
    role: 'operator',
    ok: [200, 'the lab with its new expiresAt'],
  });
}
