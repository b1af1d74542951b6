/**
 * Parameters of a lab deployed from the catalog or a saved spec: how many copies, how long it lives,
 * the trainees' SSH keys (on every copy, or one key per copy) and per-VM sizes within the bounds the
 * lab declares. Applying them gives a spec input (then parsed and checked like any other) and the
 * trainee access each copy gets, which is not part of the spec because it differs per copy.
 */
import { z } from 'zod';
import { DURATION_PATTERN, durationSeconds, formatDuration } from '../spec/duration';
import { fromZodIssues, type SpecIssue } from '../spec/issues';
import { type LabSpecInput, MAX_MULTIPLIER } from '../spec/lab-schema';
import { resourceName } from '../spec/names';
import { OS_PROFILES, type OsName, TEMPLATE_DEFAULT_SIZES } from '../spec/os-profiles';
import { SIZE_LIMITS, sshPublicKey } from '../spec/vm-pieces';

export type SizeField = keyof typeof SIZE_LIMITS;
export type SizeBounds = Partial<Record<SizeField, { min?: number; max?: number }>>;

/** Bounds a lab may narrow per VM entry; everything else comes from the OS profile and these caps. */
export const PARAMETER_SIZE_CAPS: Readonly<Record<SizeField, number>> = { cpus: 16, memoryMiB: 65536, diskGiB: 512 };

/** What a lab entry declares about its parameters (catalog entries and saved specs alike). */
export interface ParameterDeclaration {
  /** VM entries the trainee keys go on. @defaultValue every VM entry */
  traineeVms?: readonly string[];
  /** Narrower size bounds per VM entry than the defaults. */
  sizes?: Readonly<Record<string, SizeBounds>>;
}

const sizeOverride = z.strictObject({
  cpus: z.number().int('must be a whole number of vCPUs').optional(),
  memoryMiB: z.number().int('must be a whole number of MiB').optional(),
  diskGiB: z.number().int('must be a whole number of GiB').optional(),
});

export const labParametersSchema = z.strictObject({
  name: resourceName.optional().describe('name of the deployed lab (default: the spec’s)'),
  copies: z.number().int().min(1).max(MAX_MULTIPLIER).optional().describe('independent copies, one per trainee'),
  ttl: z
    .string()
    .regex(DURATION_PATTERN, 'must be minutes, hours or days, e.g. "30m", "8h", "2d"')
    .optional()
    .describe('how long the lab lives'),
  traineeKeys: z
    .array(sshPublicKey)
    .max(32, 'at most 32 keys')
    .optional()
    .describe("SSH public keys put on the trainee VMs of every copy (with the login user's own)"),
  copyKeys: z
    .array(sshPublicKey)
    .max(MAX_MULTIPLIER)
    .optional()
    .describe('one SSH public key per copy, in copy order: copy N’s trainee VMs accept only key N (and traineeKeys)'),
  vms: z
    .record(resourceName, sizeOverride)
    .optional()
    .describe('sizes per VM entry: {cpus?, memoryMiB?, diskGiB?}, within the bounds the lab declares'),
});

export type LabParameters = z.output<typeof labParametersSchema>;

/** Trainee SSH access per copy: which VM entries take the keys, the keys every copy gets, and each copy's own. */
export interface TraineeAccess {
  vms: string[];
  keys: string[];
  /** `copyKeys[i]` goes to copy i only. */
  copyKeys: string[];
}

export type ApplyResult =
  | { ok: true; spec: LabSpecInput; trainee: TraineeAccess; parameters: LabParameters }
  | { ok: false; issues: SpecIssue[] };

interface VmEntry {
  name: string;
  os?: OsName | undefined;
  cpus?: number | undefined;
  memoryMiB?: number | undefined;
  diskGiB?: number | undefined;
}

/** A VM entry's default size and the range a parameter may set it to. */
export function sizeRange(vm: VmEntry, field: SizeField, declared: SizeBounds = {}) {
  const profile = vm.os ? OS_PROFILES[vm.os] : undefined;
  const fallback = profile ?? TEMPLATE_DEFAULT_SIZES;
  const value = vm[field] ?? fallback[field];
  const osMin = field === 'memoryMiB' ? profile?.minMemoryMiB : field === 'diskGiB' ? profile?.minDiskGiB : undefined;
  const min = Math.max(SIZE_LIMITS[field].min, osMin ?? 0, declared[field]?.min ?? 0);
  const max = Math.min(SIZE_LIMITS[field].max, declared[field]?.max ?? Math.max(PARAMETER_SIZE_CAPS[field], value));
  return { default: value, min, max };
}

/** The parameters a lab accepts and their bounds, as `GET /lab-templates/:id` shows them. */
export function describeLabParameters(
  spec: LabSpecInput,
  declaration: ParameterDeclaration,
  limits: { maxCopies: number; maxTtlSeconds: number },
) {
  const sizes = Object.fromEntries(
    spec.vms.map((vm) => [
      vm.name,
      Object.fromEntries(
        (['cpus', 'memoryMiB', 'diskGiB'] as const).map((field) => [
          field,
          sizeRange(vm, field, declaration.sizes?.[vm.name]),
        ]),
      ),
    ]),
  );
  return {
    name: { type: 'string', default: spec.name },
    copies: { type: 'integer', default: spec.copies ?? 1, min: 1, max: Math.min(limits.maxCopies, MAX_MULTIPLIER) },
    ttl: { type: 'duration', default: spec.ttl ?? '8h', max: formatDuration(limits.maxTtlSeconds) },
    traineeKeys: {
      type: 'array of OpenSSH public keys',
      vms: [...(declaration.traineeVms ?? spec.vms.map((vm) => vm.name))],
    },
    copyKeys: { type: 'array of OpenSSH public keys, one per copy' },
    vms: sizes,
  };
}

function prefixed(issues: SpecIssue[]): SpecIssue[] {
  return issues.map((issue) => ({ ...issue, path: ['parameters', ...issue.path] }));
}

/**
 * Applies `input` (unchecked) to `spec`: the copies, ttl and name it sets, each VM entry's sizes
 * within its bounds, and the trainee keys. Problems name the parameter (`parameters.vms.web.cpus`).
 */
export function applyLabParameters(
  spec: LabSpecInput,
  input: unknown,
  declaration: ParameterDeclaration = {},
): ApplyResult {
  const parsed = labParametersSchema.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, issues: prefixed(fromZodIssues(parsed.error.issues)) };
  const parameters = parsed.data;
  const issues: SpecIssue[] = [];
  const entries = new Map(spec.vms.map((vm) => [vm.name, vm]));
  for (const [name, sizes] of Object.entries(parameters.vms ?? {})) {
    const vm = entries.get(name);
    if (!vm) {
      issues.push({ path: ['vms', name], message: `is not a VM of this lab (${[...entries.keys()].join(', ')})` });
      continue;
    }
    for (const field of ['cpus', 'memoryMiB', 'diskGiB'] as const) {
      const value = sizes[field];
      if (value === undefined) continue;
      const range = sizeRange(vm, field, declaration.sizes?.[name]);
      if (value < range.min || value > range.max) {
        issues.push({ path: ['vms', name, field], message: `must be between ${range.min} and ${range.max}` });
      }
    }
  }
  const copies = parameters.copies ?? spec.copies ?? 1;
  if (parameters.copyKeys && parameters.copyKeys.length !== copies) {
    issues.push({
      path: ['copyKeys'],
      message: `gives ${parameters.copyKeys.length} keys for ${copies} copies: give one per copy`,
    });
  }
  const traineeVms = [...(declaration.traineeVms ?? spec.vms.map((vm) => vm.name))];
  if (issues.length > 0) return { ok: false, issues: prefixed(issues) };
  const applied: LabSpecInput = {
    ...spec,
    ...(parameters.name ? { name: parameters.name } : {}),
    ...(parameters.copies ? { copies: parameters.copies } : {}),
    ...(parameters.ttl ? { ttl: parameters.ttl } : {}),
    vms: spec.vms.map((vm) => ({ ...vm, ...(parameters.vms?.[vm.name] ?? {}) })),
  };
  return {
    ok: true,
    spec: applied,
    trainee: { vms: traineeVms, keys: parameters.traineeKeys ?? [], copyKeys: parameters.copyKeys ?? [] },
    parameters,
  };
}

/** The trainee keys one VM (by its spec entry) of one copy gets. */
export function traineeKeysOf(trainee: TraineeAccess | undefined, copy: number, specVmName: string): string[] {
  if (!trainee?.vms.includes(specVmName)) return [];
  const own = trainee.copyKeys[copy];
  return [...trainee.keys, ...(own ? [own] : [])];
}

/** A ttl parameter or request in seconds (undefined when it is not a duration). */
export function ttlSeconds(ttl: string): number | undefined {
  return durationSeconds(ttl);
}
