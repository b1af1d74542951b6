/**
 * Request schemas the routes validate with and the OpenAPI document is generated from. Every object
 * is strict: a field the API does not know is an error, not something silently ignored.
 */
import { ALERTS_LAST_SEEN, decodeCursor, type Keyset, LAB_EVENTS, LABS_NEWEST, STANDALONE_VMS } from '@glassdome/db';
import { LAB_STATUSES, osName, resourceName, VM_STATUSES } from '@glassdome/lab';
import { ACL_PATH, GRANTABLE_PRIVILEGES, grantProblems, PVE_PRINCIPAL } from '@glassdome/queue';
import { z } from 'zod';
import { KEY_ROLES } from './auth/keys';
import { projectName } from './auth/projects';

export const idParams = z.strictObject({ id: z.uuid('must be a UUID') });

export const jobIdParams = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,300}$/, 'must be a job id such as vm-deploy.<uuid>'),
});

export const osParams = z.strictObject({ os: osName });

/** A list's `cursor`: the opaque `nextCursor` of its previous page, decoded for the repository. */
export function cursorOf(keyset: Keyset) {
  return z
    .string()
    .max(400)
    .transform((text, ctx) => {
      const cursor = decodeCursor(text, keyset);
      if ('error' in cursor) {
        ctx.addIssue({ code: 'custom', message: cursor.error });
        return z.NEVER;
      }
      return cursor;
    });
}

/** Keyset paging (O(page) at any depth); `offset` is kept for older clients. */
export const paging = (keyset: Keyset) => ({
  /** Rows per page. @defaultValue 50 */
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** Where the page starts: the previous page's `nextCursor`. @defaultValue the first page */
  cursor: cursorOf(keyset).optional(),
  /** Deprecated (costs O(offset); use `cursor`): rows to skip. @defaultValue 0 */
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

/** `cursor` and `offset` are two ways to say where a page starts: one at a time. */
function oneStart(query: { cursor?: unknown; offset: number }, ctx: z.RefinementCtx) {
  if (query.cursor !== undefined && query.offset > 0) {
    ctx.addIssue({ code: 'custom', path: ['offset'], message: 'cannot be combined with cursor (drop offset)' });
  }
}

export const vmListQuery = z
  .strictObject({ status: z.enum(VM_STATUSES).optional(), ...paging(STANDALONE_VMS) })
  .superRefine(oneStart);
/** `POST /vms`: an admin may place the VM in another project. @defaultValue the key's project */
export const vmCreateQuery = z.strictObject({ project: projectName.optional() });
export const labListQuery = z
  .strictObject({ status: z.enum(LAB_STATUSES).optional(), ...paging(LABS_NEWEST) })
  .superRefine(oneStart);
export const alertListQuery = z
  .strictObject({
    state: z.enum(['open', 'acknowledged', 'resolved']).optional(),
    severity: z.enum(['info', 'warning', 'critical']).optional(),
    ...paging(ALERTS_LAST_SEEN),
  })
  .superRefine(oneStart);
export const emptyQuery = z.strictObject({});

export const labCreateQuery = z.strictObject({
  /** Validate and plan only: answer with the graph, write nothing. @defaultValue false */
  dryRun: z
    .enum(['true', 'false', '1', '0'])
    .transform((value) => value === 'true' || value === '1')
    .optional(),
  /** The project the lab goes to (admins only). @defaultValue the key's project */
  project: projectName.optional(),
});

export const labEventsQuery = z.strictObject({
  /** Resume after this event id (same as the `Last-Event-ID` header). */
  lastEventId: z.coerce.number().int().min(0).optional(),
});

/** `GET /labs/:id/events` asked for JSON: a page of the timeline, oldest first. */
export const labEventPageQuery = z.strictObject({
  /** Events per page. @defaultValue 50 */
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** Where the page starts: the previous page's `nextCursor`. @defaultValue the lab's first event */
  cursor: cursorOf(LAB_EVENTS).optional(),
});

/** `POST /labs` with `{"template": id}`: deploy a built-in lab, optionally under another name. */
export const labFromCatalogBody = z.strictObject({
  template: z.string().min(1).max(100),
  name: resourceName.optional(),
});

const nodeName = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/, 'must be a Proxmox node name');

export const templateCreateBody = z.strictObject({
  os: osName,
  /** The project the template belongs to (admins only). @defaultValue the key's project */
  project: projectName.optional(),
  /** Node to build the template on. @defaultValue PROXMOX_NODE */
  node: nodeName.optional(),
  /** VMID of the template. @defaultValue 9000 + the OS's position in the OS list */
  vmid: z.number().int().min(100).max(999_999_999).optional(),
});

/** Privileges the API lets an admin grant: the one allowlist in @glassdome/queue (the gateway checks it too). */
export { GRANTABLE_PRIVILEGES };

/** Named bundles of grantable privileges, mirroring Proxmox's built-in non-admin roles. */
export const PERMISSION_ROLES = {
  'vm-user': ['VM.Audit', 'VM.Console', 'VM.PowerMgmt', 'VM.Backup', 'VM.Config.CDROM', 'VM.Config.Cloudinit'],
  'template-user': ['VM.Clone', 'VM.Audit'],
  'datastore-user': ['Datastore.AllocateSpace', 'Datastore.Audit'],
  'sdn-user': ['SDN.Audit', 'SDN.Use'],
  auditor: ['VM.Audit', 'Datastore.Audit', 'SDN.Audit', 'Sys.Audit', 'Pool.Audit'],
} as const satisfies Record<string, readonly (typeof GRANTABLE_PRIVILEGES)[number][]>;

export const permissionGrantBody = z
  .strictObject({
    /** user@realm or user@realm!token */
    principal: z.string().regex(PVE_PRINCIPAL, 'must be user@realm or user@realm!token'),
    /** ACL path, e.g. /vms/100, /storage/local-lvm, /sdn/zones/glassdome; on `/` audit privileges only. */
    path: z.string().max(200).regex(ACL_PATH, 'must be an ACL path such as /vms/100'),
    privileges: z.array(z.enum(GRANTABLE_PRIVILEGES)).min(1).max(40).optional(),
    role: z.enum(Object.keys(PERMISSION_ROLES) as [keyof typeof PERMISSION_ROLES]).optional(),
    /** Why, for the audit trail. @defaultValue 'granted through the API' */
    reason: z.string().max(500).optional(),
  })
  .refine((body) => (body.privileges === undefined) !== (body.role === undefined), {
    message: 'give exactly one of privileges or role',
    path: ['privileges'],
  })
  .superRefine((body, ctx) => {
    const privileges = body.privileges ?? PERMISSION_ROLES[body.role!] ?? [];
    if (!ACL_PATH.test(body.path) || !PVE_PRINCIPAL.test(body.principal)) return;
    for (const message of grantProblems({ principal: body.principal, path: body.path, privileges })) {
      ctx.addIssue({ code: 'custom', message, path: [body.privileges ? 'privileges' : 'role'] });
    }
  });

const keyName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/, 'must be 1-100 letters, digits, spaces, . _ -');

export const apiKeyCreateBody = z.strictObject({
  name: keyName,
  role: z.enum(KEY_ROLES),
  /** The project the key acts in, created on first use. @defaultValue 'default' */
  project: projectName.optional(),
});

/** `POST /labs/:id/trainee-keys`: a key that reads one copy of the lab. */
export const traineeKeyCreateBody = z.strictObject({
  /** The copy (0-based) the trainee may read. */
  copy: z.number().int().min(0).max(10_000),
  /** A label for listings. @defaultValue `trainee-c<copy>` */
  name: keyName.optional(),
});

export const projectParams = z.strictObject({ name: projectName });

const quotaValue = z.number().int().min(0).max(2_000_000_000).nullable().optional();

/** `PUT /projects/:name/quotas`: each field a limit, or null for the configured default; absent fields are kept. */
export const projectQuotasBody = z.strictObject({
  maxVms: quotaValue,
  maxCopies: quotaValue,
  maxVcpus: quotaValue,
  maxMemoryMiB: quotaValue,
  maxLabTtlSeconds: quotaValue,
});

/** `POST /templates/:id/publish`: make a template usable by every project, or its own again. */
export const templatePublishBody = z.strictObject({ published: z.boolean() });
