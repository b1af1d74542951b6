/**
 * What the lab rows hold, parsed back (never cast): a lab's `spec` column (the validated spec with
 * every default applied, `LabSpec`) and `graph` column (its task graph), a saved spec's `spec` column (the spec as its author wrote it,
 * checked when saved) and a warm pool's `source` (what it deploys). Writers hand these structures to
 * `toStoredJson` of `@glassdome/db`; readers parse them here.
 *
 * A stored lab spec passed every user-facing rule when it was deployed (`parseLabSpec`), so its
 * schema checks the shape and the types, not those rules again: a rule tightened later must not make
 * a running lab unreadable.
 */
import { z } from 'zod';
import type { LabGraph, LabTask } from '../graph/types';
import { fromZodIssues, type ParseResult } from './issues';
import { type LabSpecInput, labSpecSchema } from './lab-schema';
import { osName } from './os-profiles';
import type { LabNetwork, LabRule, LabSpec, LabVm, VmNetworkAttachment } from './resolve';
import { type CloudInit, cpus, diskGiB, memoryMiB, provisionStep, templateRef } from './vm-pieces';

// Each shape names exactly the fields of its type (`satisfies` refuses a missing or an extra key), and
// each parse returns that type, so a field added to LabSpec and not here fails to compile.
const cloudInitShape = {
  user: z.string(),
  sshKeys: z.array(z.string()),
  packages: z.array(z.string()),
  runcmd: z.array(z.string()),
} satisfies Record<keyof CloudInit, z.ZodType>;

const attachmentShape = {
  name: z.string().min(1),
  ip: z.string().optional(),
} satisfies Record<keyof VmNetworkAttachment, z.ZodType>;

const vmShape = {
  name: z.string().min(1),
  os: osName.optional(),
  template: templateRef.optional(),
  cpus,
  memoryMiB,
  diskGiB,
  count: z.number().int().min(1).optional(),
  networks: z.array(z.strictObject(attachmentShape)),
  cloudInit: z.strictObject(cloudInitShape),
  provision: z.array(provisionStep),
  dependsOn: z.array(z.string()),
} satisfies Record<keyof LabVm, z.ZodType>;

const networkShape = {
  name: z.string().min(1),
  cidr: z.string(),
  egress: z.union([z.enum(['allow', 'deny']), z.array(z.string())]),
  gateway: z.string().optional(),
  intra: z.enum(['allow', 'deny']),
} satisfies Record<keyof LabNetwork, z.ZodType>;

const ruleShape = {
  from: z.string(),
  to: z.string(),
  ports: z.array(z.string()),
} satisfies Record<keyof LabRule, z.ZodType>;

const labSpecShape = {
  name: z.string().min(1),
  description: z.string().optional(),
  ttl: z.string(),
  ttlSeconds: z.number().int().positive(),
  copies: z.number().int().min(1),
  onFailure: z.enum(['fail', 'keep']),
  networks: z.array(z.strictObject(networkShape)),
  rules: z.array(z.strictObject(ruleShape)),
  vms: z.array(z.strictObject(vmShape)).min(1),
} satisfies Record<keyof LabSpec, z.ZodType>;

/** A lab row's `spec`: what `parseLabSpec` gave at deploy. */
export const storedLabSpecSchema = z.strictObject(labSpecShape);

const taskShape = {
  id: z.string().min(1),
  kind: z.enum(['network', 'vm-provision', 'vm-configure', 'isolation']),
  copy: z.number().int().min(0),
  vmName: z.string().optional(),
  specVmName: z.string().optional(),
  networkName: z.string().optional(),
  dependsOn: z.array(z.string()),
} satisfies Record<keyof LabTask, z.ZodType>;

/** A lab row's `graph`: what `compileLabGraph` gave at deploy. */
export const storedLabGraphSchema = z.strictObject({
  tasks: z.array(z.strictObject(taskShape)),
} satisfies Record<keyof LabGraph, z.ZodType>);

/** A warm pool's `source`: a catalog template or a saved spec, each with its parameters (checked when used). */
export const storedLabSourceSchema = z.union([
  z.strictObject({ template: z.string().min(1), parameters: z.unknown().optional() }),
  z.strictObject({
    spec: z.string().min(1),
    version: z.number().int().positive().optional(),
    parameters: z.unknown().optional(),
  }),
]);

/** A deployment named by reference: a catalog template or a saved spec, each with parameters. */
export type LabSourceRef = z.output<typeof storedLabSourceSchema>;

/** A stored row that does not hold what its column promises: an error, not a guess. */
export class StoredSpecError extends Error {
  constructor(
    readonly what: string,
    readonly issues: string[],
  ) {
    super(`stored ${what} is invalid: ${issues.join('; ')}`);
    this.name = 'StoredSpecError';
  }
}

/** The parsed value, or a `StoredSpecError` naming every problem with its path. */
export function parseStored<T>(what: string, result: z.ZodSafeParseResult<T>): T {
  if (!result.success) {
    throw new StoredSpecError(
      what,
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}

/** Parses a lab row's `spec`. */
export function parseStoredLabSpec(json: unknown): LabSpec {
  return parseStored('lab spec', storedLabSpecSchema.safeParse(json));
}

/** Parses a lab row's `graph`. */
export function parseStoredLabGraph(json: unknown): LabGraph {
  return parseStored('lab graph', storedLabGraphSchema.safeParse(json));
}

/** Parses a warm pool's `source`. */
export function parseStoredLabSource(json: unknown): LabSourceRef {
  return parseStored('lab source', storedLabSourceSchema.safeParse(json));
}

/**
 * A saved spec's `spec` as the spec input it was saved as (its shape checked again, with the defaults
 * the schema fills in; the deploy that uses it checks every rule after its parameters are applied).
 * A saved spec that no longer has the shape of a spec comes back as issues, like any spec input.
 */
export function parseSavedLabSpec(json: unknown): ParseResult<'spec', LabSpecInput> {
  const result = labSpecSchema.safeParse(json);
  if (!result.success) return { ok: false, issues: fromZodIssues(result.error.issues) };
  return { ok: true, spec: result.data };
}
