/**
 * Request schemas of the exercise routes (snapshots, reverts, testing mode, TTL, rosters, warm pools,
 * saved specs, templates with parameters). Strict like the others: an unknown field is an error.
 */
import { labParametersSchema, resourceName, snapshotName, testingModeRequest, userSnapshotName } from '@glassdome/lab';
import { z } from 'zod';
import { projectName } from './auth/projects';

const duration = z.string().regex(/^[1-9]\d{0,5}[mhd]$/, 'must be minutes, hours or days, e.g. "30m", "8h", "2d"');
const copy = z.number().int().min(0).max(999).describe('copy number, from 0');
const vmId = z.uuid('must be a UUID').describe('one VM of the lab');

/** A VM or a copy of the lab, or (neither) the whole lab. */
const targetFields = { copy: copy.optional(), vmId: vmId.optional() };
const oneTarget = <T extends { copy?: number | undefined; vmId?: string | undefined }>(body: T) =>
  body.copy === undefined || body.vmId === undefined;
const oneTargetIssue = { message: 'give copy or vmId, not both', path: ['vmId'] };

export const labSnapshotBody = z
  .strictObject({
    name: userSnapshotName,
    ...targetFields,
    /** Keep each running VM's RAM too: a revert resumes it where it was. @defaultValue false */
    withRam: z.boolean().optional(),
    description: z.string().max(200, 'must be at most 200 characters').optional(),
  })
  .refine(oneTarget, oneTargetIssue);

export const labRevertBody = z
  .strictObject({ snapshot: snapshotName, ...targetFields })
  .refine(oneTarget, oneTargetIssue);

export const labResetBody = z.strictObject(targetFields).refine(oneTarget, oneTargetIssue);

export const vmSnapshotBody = z.strictObject({
  name: userSnapshotName,
  withRam: z.boolean().optional(),
  description: z.string().max(200, 'must be at most 200 characters').optional(),
});
export const vmRevertBody = z.strictObject({ snapshot: snapshotName });

export const snapshotParams = z.strictObject({ id: z.uuid('must be a UUID'), name: snapshotName });
export const operationParams = z.strictObject({ id: z.uuid('must be a UUID'), operationId: z.uuid('must be a UUID') });

const numeric = z.coerce.number().int();
export const snapshotTargetQuery = z
  .strictObject({ copy: numeric.min(0).max(999).optional(), vmId: vmId.optional() })
  .refine(oneTarget, oneTargetIssue);

export const labTestingBody = testingModeRequest;

export const labPatchBody = z.strictObject({
  /** The lab lives this long from now (longer or shorter than before), within the project's quota. */
  ttl: duration,
});

export const labCancelQuery = z.strictObject({
  /** Delete the cancelled lab's VMs (true) or keep them for inspection until the lab is deleted. @defaultValue false */
  destroyVms: z
    .enum(['true', 'false', '1', '0'])
    .transform((value) => value === 'true' || value === '1')
    .optional(),
});

export const rosterQuery = z.strictObject({ format: z.enum(['json', 'csv']).optional() });

export const templateParams = z.strictObject({ id: z.string().min(1).max(100) });

/** `POST /labs` by reference: a catalog template or a saved spec, with parameters. */
export const labFromReferenceBody = z.union([
  z.strictObject({
    template: z.string().min(1).max(100),
    name: resourceName.optional(),
    parameters: labParametersSchema.optional(),
  }),
  z.strictObject({
    spec: resourceName.describe('a saved spec of the project (see /lab-specs)'),
    version: z.number().int().min(1).optional().describe('default: the newest'),
    name: resourceName.optional(),
    parameters: labParametersSchema.optional(),
  }),
]);

export const labSpecBody = z.strictObject({
  name: resourceName.optional().describe("default: the spec's own name"),
  description: z.string().max(2000).optional(),
  spec: z.record(z.string(), z.unknown()).describe('a lab spec, as POST /labs takes it'),
});
export const labSpecParams = z.strictObject({ name: resourceName });
export const labSpecVersionParams = z.strictObject({ name: resourceName, version: z.coerce.number().int().min(1) });
export const projectQuery = z.strictObject({ project: projectName.optional() });

const poolSize = z.number().int().min(0).max(200);

export const poolCreateBody = z
  .strictObject({
    name: resourceName,
    template: z.string().min(1).max(100).optional(),
    spec: resourceName.optional(),
    version: z.number().int().min(1).optional(),
    parameters: labParametersSchema.optional(),
    size: poolSize,
  })
  .refine((body) => (body.template === undefined) !== (body.spec === undefined), {
    message: 'give exactly one of template or spec',
    path: ['template'],
  });

export const poolPatchBody = z.strictObject({
  size: poolSize.optional(),
  status: z.enum(['active', 'draining']).optional(),
});

export const poolParams = z.strictObject({ id: resourceName.or(z.uuid()) });

export const poolClaimBody = z.strictObject({
  name: resourceName.optional().describe("the lab's name once claimed (default: the copy's pool name)"),
  project: projectName.optional().describe("the project it goes to (default: the key's)"),
  ttl: duration.optional().describe("how long it lives from now (default: the lab's ttl)"),
  traineeKeys: labParametersSchema.shape.traineeKeys,
  copyKeys: labParametersSchema.shape.copyKeys,
});

export const poolScheduleBody = z
  .strictObject({
    size: poolSize.describe('the size the pool takes then'),
    cron: z
      .string()
      .regex(/^\S+( \S+){4,5}$/, 'must be a cron pattern of 5 or 6 fields, e.g. "30 8 * * 1"')
      .optional()
      .describe('repeating: a cron pattern'),
    tz: z.string().max(64).optional().describe('time zone of the cron pattern, e.g. Europe/Paris'),
    at: z.iso.datetime({ offset: true }).optional().describe('once: an ISO time'),
  })
  .refine((body) => (body.cron === undefined) !== (body.at === undefined), {
    message: 'give exactly one of cron or at',
    path: ['cron'],
  });

export const poolScheduleParams = z.strictObject({
  id: resourceName.or(z.uuid()),
  scheduleId: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be a schedule id'),
});
