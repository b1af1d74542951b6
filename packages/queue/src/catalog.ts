/**
 * Every job Glassdome runs, in one place: its name, queue, payload schema, retry policy and time
 * bound. Producers and workers both import this catalog, so a payload a worker cannot parse cannot be
 * enqueued. Payloads carry references (ids) only; secrets never enter Redis.
 */
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { grantProblems, repairProblems } from './permission-policy';

/** The queues, and which process consumes them. */
export const QUEUES = {
  /** Single-VM deploy and destroy (installer). */
  vm: 'vm',
  /** Lab flows: the lab root job and each task of its graph (installer). */
  lab: 'lab',
  /** OS template builds over SSH on the node (gateway). */
  template: 'template',
  /** Role and ACL grants (gateway). */
  permission: 'permission',
  /** Per-lab isolated networks: VLAN leases and bridges, and whether pve-firewall has compiled (gateway). */
  network: 'network',
  /** Scheduled scans, remediations and alert webhooks (overseer). */
  overseer: 'overseer',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** A comma-separated list of queue names as an env variable holds it, checked against QUEUES. */
export const queueList = z
  .string()
  .transform((value) => value.split(',').map((name) => name.trim()))
  .pipe(
    z
      .array(z.enum(Object.values(QUEUES) as [QueueName, ...QueueName[]]))
      .min(1, 'name at least one queue')
      .refine((names) => new Set(names).size === names.length, 'names a queue twice'),
  );

/** The steps of a VM deployment, in order; each is recorded in Postgres with its timings. */
export const VM_DEPLOY_STEPS = [
  'reserve-vmid',
  'clone',
  'configure',
  'firewall',
  'start',
  'wait-agent',
  'wait-ssh',
  'post-configure',
  'verify',
] as const;
/** The steps of a VM's destruction. */
export const VM_DESTROY_STEPS = ['stop', 'delete', 'release-leases'] as const;

const id = z.string().uuid();
const requestId = z.string().max(128).optional();
/** An SDN object id (zone or VNet): at most 8 lowercase letters and digits, starting with a letter. */
const sdnId = z.string().regex(/^[a-z][a-z0-9]{1,7}$/, 'must be an SDN id (2-8 lowercase letters and digits)');
/** A Proxmox node name as PVE allows it (a host name label): letters, digits and inner hyphens. */
const nodeName = z
  .string()
  .regex(
    /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/,
    'must be a Proxmox node name (letters, digits, inner hyphens)',
  );

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  queue: QueueName;
  payload: S;
  /** Attempts before the job fails for good (transient errors only are retried by handlers' callers). */
  attempts: number;
  /** Exponential backoff base in ms between attempts. */
  backoffMs: number;
  /** The handler is aborted (and the attempt fails) after this long. */
  timeoutMs: number;
  /** How long a finished job stays in Redis. @defaultValue a week once completed, 30 days once failed */
  keepSeconds?: number;
  description: string;
}

function job<S extends z.ZodType>(definition: JobDefinition<S>): JobDefinition<S> {
  return definition;
}

export const JOBS = {
  'vm.deploy': job({
    queue: 'vm',
    payload: z.object({ vmId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description: 'Deploy one VM: reserve VMID → clone → configure → start → agent IP → SSH → post-configure → verify',
  }),
  'vm.destroy': job({
    queue: 'vm',
    payload: z.object({ vmId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 10 * 60_000,
    description: 'Stop and delete one VM and release its leases',
  }),
  'lab.run': job({
    queue: 'lab',
    payload: z.object({ labId: id, requestId }),
    attempts: 1,
    backoffMs: 1_000,
    timeoutMs: 24 * 60 * 60_000,
    description: "Root of a lab's flow: completes after its last task and settles the lab's status",
  }),
  'lab.task': job({
    queue: 'lab',
    payload: z.object({ labId: id, taskId: z.string().min(1).max(300), requestId }),
    attempts: 4,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description:
      "One VM task of a lab's graph (provision or configure) or a copy's isolation check; adds the tasks it makes ready, and a provision runs its VM's configure itself when it made that ready",
  }),
  'lab.destroy': job({
    queue: 'lab',
    payload: z.object({ labId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description: 'Tear down every VM, network and lease a lab owns',
  }),
  'lab.snapshot': job({
    queue: 'lab',
    payload: z.object({ operationId: id }),
    attempts: 3,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description: 'Snapshot the VMs of one operation (a VM, a copy or a whole lab) at once, RAM optional',
  }),
  'lab.snapshot.delete': job({
    queue: 'lab',
    payload: z.object({ operationId: id }),
    attempts: 3,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description: 'Delete a named snapshot from the VMs of one operation',
  }),
  'lab.revert': job({
    queue: 'lab',
    payload: z.object({ operationId: id }),
    attempts: 3,
    backoffMs: 5_000,
    timeoutMs: 60 * 60_000,
    description: 'Roll VMs back to a snapshot, start them, verify them again and settle the lab ready',
  }),
  'lab.testing': job({
    queue: 'lab',
    payload: z.object({ operationId: id }),
    attempts: 3,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description: "Testing mode: snapshot and widen a lab's egress, or restore the policy its spec compiles to",
  }),
  'lab.claim': job({
    queue: 'lab',
    payload: z.object({ operationId: id }),
    attempts: 3,
    backoffMs: 500,
    timeoutMs: 5 * 60_000,
    description: "Hand a claimed pool copy over: put its new trainees' SSH keys on its trainee VMs",
  }),
  'lab.release-vms': job({
    queue: 'lab',
    payload: z.object({ labId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 30 * 60_000,
    description: "Delete a cancelled lab's VMs once its flow ended (the lab stays cancelled)",
  }),
  'pool.fill': job({
    queue: 'lab',
    payload: z.object({ poolId: id }),
    attempts: 3,
    backoffMs: 5_000,
    timeoutMs: 5 * 60_000,
    description:
      'Deploy copies until a warm pool holds its size (ready or on the way); tear down failed and extra ones',
  }),
  'pool.prewarm': job({
    queue: 'lab',
    payload: z.object({ poolId: id, size: z.number().int().min(0).max(500) }),
    attempts: 3,
    backoffMs: 5_000,
    timeoutMs: 5 * 60_000,
    description: "Scheduled: set a warm pool's size (e.g. for a class) and fill it",
  }),
  'network.create': job({
    queue: 'network',
    payload: z.object({ labId: id, taskId: z.string().min(1).max(300), requestId }),
    attempts: 4,
    backoffMs: 2_000,
    timeoutMs: 5 * 60_000,
    description:
      "One network of one lab copy: a leased VLAN tag, as an SDN VNet of Glassdome's zone (or a tag on the bridge)",
  }),
  'vm.firewall': job({
    queue: 'vm',
    payload: z.object({ vmId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 5 * 60_000,
    description: "Re-apply a lab VM's firewall as its lab's policy compiles (drift repair)",
  }),
  'lab.verify': job({
    queue: 'lab',
    payload: z.object({ labId: id, requestId }),
    attempts: 2,
    backoffMs: 5_000,
    timeoutMs: 15 * 60_000,
    description: "Run a live lab's isolation check again and record the result (the overseer's schedule)",
  }),
  'firewall.status': job({
    queue: 'network',
    payload: z.object({ nodes: z.array(nodeName).min(1).max(32) }),
    attempts: 1,
    backoffMs: 1_000,
    timeoutMs: 30_000,
    // A question read once by its asker: kept a minute (a class asks hundreds).
    keepSeconds: 60,
    description:
      "Ask pve-firewall on each node whether the rules in force are those the configuration compiles to now (the isolation check's wait)",
  }),
  'network.release': job({
    queue: 'network',
    payload: z.object({ labId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 5 * 60_000,
    description: "Remove a torn-down lab's networks (SDN vnets), release their VLAN tags, and mark the lab destroyed",
  }),
  'network.delete-vnet': job({
    queue: 'network',
    payload: z.object({ vnet: sdnId, requestId }),
    attempts: 3,
    backoffMs: 5_000,
    timeoutMs: 5 * 60_000,
    description:
      "Delete a VNet of Glassdome's zone that no lease holds (the overseer's repair of a leaked network) and apply SDN",
  }),
  'network.named-create': job({
    queue: 'network',
    payload: z.object({ networkId: id, requestId }),
    attempts: 4,
    backoffMs: 2_000,
    timeoutMs: 5 * 60_000,
    description: "Make a network an admin gave a project: a leased VLAN tag as a VNet of Glassdome's zone",
  }),
  'network.named-delete': job({
    queue: 'network',
    payload: z.object({ networkId: id, requestId }),
    attempts: 5,
    backoffMs: 2_000,
    timeoutMs: 5 * 60_000,
    description: "Remove a project's named network that no VM uses: its VNet, its VLAN lease and its row",
  }),
  'template.create': job({
    queue: 'template',
    payload: z.object({ templateId: id, requestId }),
    attempts: 3,
    backoffMs: 5_000,
    timeoutMs: 30 * 60_000,
    description: 'Build an OS template on a node over SSH (idempotent: an existing template is reported)',
  }),
  'permission.grant': job({
    queue: 'permission',
    // The allowlist is part of the schema: a producer cannot enqueue a forbidden grant, and a worker
    // refuses one written straight into Redis before its handler (and Proxmox) sees it.
    payload: z
      .object({
        platformId: z.string().min(1),
        /** user@realm or user@realm!token */
        principal: z.string().min(3).max(200),
        path: z.string().startsWith('/').max(200),
        privileges: z
          .array(z.string().regex(/^[A-Za-z.]+$/))
          .min(1)
          .max(40),
        reason: z.string().max(500),
        /** Set by permission repair (a 403 during this VM's deploy): the narrower repair allowlist applies. */
        vmId: id.optional(),
        labId: id.optional(),
        requestId,
      })
      .superRefine((grant, ctx) => {
        for (const message of grant.vmId ? repairProblems(grant) : grantProblems(grant)) {
          ctx.addIssue({ code: 'custom', message, path: ['privileges'] });
        }
      }),
    attempts: 3,
    backoffMs: 2_000,
    timeoutMs: 2 * 60_000,
    description: "Grant Glassdome's least-privilege role on one path to a user or token",
  }),
  'overseer.scan': job({
    queue: 'overseer',
    payload: z.object({ platformId: z.string().min(1) }),
    attempts: 1,
    backoffMs: 1_000,
    timeoutMs: 5 * 60_000,
    description: 'Inventory a platform, store observed state, reconcile, raise/resolve alerts',
  }),
  'overseer.redrive': job({
    queue: 'overseer',
    payload: z.object({ platformId: z.string().min(1) }),
    attempts: 1,
    backoffMs: 1_000,
    timeoutMs: 5 * 60_000,
    description: 'Re-drive VMs, labs and templates left in a non-final state with no job, or fail them with the reason',
  }),
  'overseer.remediate': job({
    queue: 'overseer',
    payload: z.object({
      action: z.enum([
        'start-vm',
        'rewait-agent',
        'reboot-vm',
        'reclone-vm',
        'destroy-orphan',
        'expire-lab',
        'restore-firewall',
        'release-network',
        'delete-vnet',
      ]),
      platformId: z.string().min(1),
      vmId: id.optional(),
      labId: id.optional(),
      vmid: z.number().int().optional(),
      node: z.string().optional(),
      vnet: sdnId.optional(),
      networkId: id.optional(),
      reason: z.string().max(500),
    }),
    attempts: 1,
    backoffMs: 5_000,
    timeoutMs: 10 * 60_000,
    description: 'One remediation action, governed by its policy and circuit breaker',
  }),
  'alert.webhook': job({
    queue: 'overseer',
    // The target travels as the id of its sealed row, never as the URL (which may hold a secret).
    payload: z.object({
      alertId: id,
      webhookId: z.string().regex(/^[0-9a-f]{24}$/, 'must be a webhook target id'),
      event: z.enum(['opened', 'resolved', 'acknowledged']),
    }),
    attempts: 6,
    backoffMs: 5_000,
    timeoutMs: 30_000,
    description: 'POST an alert to a webhook target (sealed in Postgres), signed with an HMAC header',
  }),
} as const satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.infer<(typeof JOBS)[N]['payload']>;

/** The job names consumed from one queue. */
export function jobsOfQueue(queue: QueueName): JobName[] {
  return (Object.keys(JOBS) as JobName[]).filter((name) => JOBS[name].queue === queue);
}

/**
 * Thrown when a payload does not satisfy its job's schema: nothing is enqueued, and a worker fails
 * such a job at once (no retry can make it valid).
 */
export class InvalidJobPayloadError extends UnrecoverableError {
  constructor(
    readonly job: string,
    readonly issues: string[],
  ) {
    super(`invalid payload for ${job}: ${issues.join('; ')}`);
    this.name = 'InvalidJobPayloadError';
  }
}

export function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  const result = JOBS[name].payload.safeParse(data);
  if (!result.success) {
    throw new InvalidJobPayloadError(
      name,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data as JobPayload<N>;
}
