/**
 * Recording a lab deployment, shared by the API (a deploy request) and the warm pools (a refill):
 * the lab, its VMs with their stored specs and planned steps, and the intent that starts its flow,
 * written in the caller's transaction. Also where a deployment's spec comes from: the request's own,
 * a catalog template with parameters, or a project's saved spec with parameters.
 */
import {
  type Db,
  getLabSpec,
  insertLab,
  insertLabVms,
  insertVms,
  type JsonValue,
  planSteps,
  type Scope,
  setLabOrigin,
  toStoredJson,
} from '@glassdome/db';
import {
  applyLabParameters,
  compileLabGraph,
  instanceNames,
  type LabSourceRef,
  type LabSpec,
  type LabSpecInput,
  labAddressing,
  type ParameterDeclaration,
  parseLabSpec,
  parseSavedLabSpec,
  type Quotas,
  resolveCatalogTemplate,
  type SpecIssue,
  storedVmSpec,
  type TraineeAccess,
  traineeKeysOf,
} from '@glassdome/lab';
import { type EnqueueIntent, VM_DEPLOY_STEPS } from '@glassdome/queue';
import { labRunIntent, writeIntent } from './outbox';

/** Every VM a lab deploys: one per copy and per instance of each spec entry. */
export function labVmInstances(spec: LabSpec) {
  const instances: { copy: number; name: string; vm: LabSpec['vms'][number] }[] = [];
  for (let copy = 0; copy < spec.copies; copy++) {
    for (const vm of spec.vms) {
      for (const name of instanceNames(vm)) instances.push({ copy, name, vm });
    }
  }
  return instances;
}

export interface LabDeployRecord {
  spec: LabSpec;
  platformId: string;
  node: string;
  project: string;
  createdBy?: string | null;
  requestId?: string | null;
  /** When the overseer tears it down; null for a pool copy until it is claimed. */
  expiresAt: Date | null;
  /** Trainee SSH keys per copy (from deploy parameters). */
  trainee?: TraineeAccess;
  /** Where the spec came from (a template and its parameters, a saved spec), kept on the lab. */
  source?: JsonValue;
  /** The warm pool this copy belongs to until it is claimed. */
  poolId?: string;
  /**
   * The VMs keep their plan on their rows (`planned_steps`) and the caller writes their step rows
   * after its commit (`planLabVmSteps`), so the transaction that the lab's first job waits for does
   * not write them (the API's deploy; the installer writes them itself if the caller never did).
   * Without it, the step rows are written in the caller's transaction (a pool's refill).
   */
  planOnVms?: boolean;
}

/** A recorded lab: its id, and the outbox row of the intent that starts its flow. */
export interface RecordedLab {
  labId: string;
  /** For `OutboxRelay.sendCommitted` once the transaction committed (a relay pass sends it otherwise). */
  outbox: { id: number; intent: EnqueueIntent };
}

/** Writes the lab, its VMs and their planned steps (or plans, `planOnVms`) and the intent that starts its flow. */
export async function recordLabDeploy(trx: Db, record: LabDeployRecord): Promise<RecordedLab> {
  const { spec } = record;
  const graph = compileLabGraph(spec);
  // Every copy gets the same addresses, each on its own networks.
  const addressing = new Map(labAddressing(spec).vms.map((vm) => [vm.vm, vm]));
  const labId = await insertLab(trx, {
    name: spec.name,
    platformId: record.platformId,
    spec: toStoredJson(spec),
    graph: toStoredJson(graph),
    onFailure: spec.onFailure,
    copies: spec.copies,
    expiresAt: record.expiresAt,
    requestId: record.requestId ?? null,
    createdBy: record.createdBy ?? null,
    project: record.project,
  });
  if (record.source !== undefined || record.poolId !== undefined) {
    await setLabOrigin(trx, labId, {
      ...(record.source === undefined ? {} : { source: record.source }),
      ...(record.poolId === undefined ? {} : { poolId: record.poolId }),
    });
  }
  const vms = labVmInstances(spec).map(({ copy, name, vm }) => {
    const stored = storedVmSpec(vm, addressing.get(name));
    const keys = traineeKeysOf(record.trainee, copy, vm.name);
    stored.cloudInit.sshKeys = [...new Set([...stored.cloudInit.sshKeys, ...keys])];
    return {
      labId,
      copy,
      name,
      // A VM built from a custom template has no OS profile; the column still wants a value.
      os: vm.os ?? 'custom',
      platformId: record.platformId,
      node: record.node,
      spec: toStoredJson(stored),
      requestId: record.requestId ?? null,
      createdBy: record.createdBy ?? null,
      project: record.project,
    };
  });
  if (record.planOnVms) {
    await insertLabVms(trx, vms, VM_DEPLOY_STEPS);
  } else {
    const vmIds = await insertVms(trx, vms);
    await planSteps(
      trx,
      vmIds.map((vmId) => ({ vmId, labId })),
      [...VM_DEPLOY_STEPS],
    );
  }
  const intent = labRunIntent(
    { id: labId, graph, policy: spec.onFailure },
    { run: 0, doneTasks: [] },
    record.requestId,
  );
  return { labId, outbox: { id: await writeIntent(trx, intent), intent } };
}

export type { LabSourceRef };

export type ResolvedSource =
  | { ok: true; spec: LabSpec; trainee: TraineeAccess; source: JsonValue }
  | { ok: false; issues: SpecIssue[]; notFound?: boolean };

/**
 * The spec a reference deploys, with its parameters applied and checked (against `quotas` for copies
 * and ttl); `scope` decides which saved specs it may name. Problems come back as issues naming the
 * field (`template`, `spec`, `parameters.copies`, …).
 */
export async function resolveLabSource(
  db: Db,
  ref: LabSourceRef,
  options: { scope: Scope; quotas?: Partial<Quotas> },
): Promise<ResolvedSource> {
  let input: LabSpecInput;
  let declaration: ParameterDeclaration = {};
  let origin: Record<string, JsonValue>;
  if ('template' in ref) {
    const entry = resolveCatalogTemplate(ref.template);
    if (!entry)
      return { ok: false, issues: [{ path: ['template'], message: 'is not a lab in the catalog' }], notFound: true };
    input = entry.spec;
    declaration = entry.parameters ?? {};
    origin = { template: entry.id };
  } else {
    const saved = await getLabSpec(
      db,
      { name: ref.spec, ...(ref.version ? { version: ref.version } : {}) },
      options.scope,
    );
    if (!saved) {
      const what = ref.version ? `version ${ref.version} of ` : '';
      return {
        ok: false,
        issues: [{ path: ['spec'], message: `${what}saved spec ${ref.spec} not found` }],
        notFound: true,
      };
    }
    const savedInput = parseSavedLabSpec(saved.spec);
    if (!savedInput.ok) return savedInput;
    input = savedInput.spec;
    origin = { spec: saved.name, version: saved.version, project: saved.project };
  }
  const applied = applyLabParameters(input, ref.parameters, declaration);
  if (!applied.ok) return applied;
  const parsed = parseLabSpec(applied.spec, options.quotas ? { quotas: options.quotas } : {});
  if (!parsed.ok) return { ok: false, issues: parsed.issues };
  const { traineeKeys, copyKeys, ...rest } = applied.parameters;
  return {
    ok: true,
    spec: parsed.spec,
    trainee: applied.trainee,
    // Public keys are no secret, but the roster shows them from the VMs; the source keeps the rest.
    source: {
      ...origin,
      parameters: rest as JsonValue,
      traineeVms: applied.trainee.vms,
      traineeKeys: (traineeKeys?.length ?? 0) + (copyKeys?.length ?? 0),
    },
  };
}
