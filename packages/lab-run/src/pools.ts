/**
 * Warm pools: a pool keeps `size` copies of a lab (a catalog template or a saved spec, with
 * parameters) deployed ahead of time in its project. A claim hands the oldest ready one to a project
 * in one transaction (new name, project and creator, TTL from now, the claimer's SSH keys recorded and
 * put on the guests by a job), and asks the pool to deploy a replacement; `fillPool` deploys what is
 * missing and tears down what failed or is too many.
 */
import { randomBytes } from 'node:crypto';
import {
  ALL_PROJECTS,
  appendEvent,
  type Db,
  deletePool,
  inTransaction,
  listPoolMembers,
  listVmsOfLab,
  lockPool,
  markPoolLabClaimed,
  setVmStoredSpec,
  takeReadyPoolMember,
  toStoredJson,
} from '@glassdome/db';
import {
  parseStoredLabSource,
  parseStoredLabSpec,
  parseStoredVmSpec,
  type TraineeAccess,
  traineeKeysOf,
} from '@glassdome/lab';
import { jobIntent } from '@glassdome/queue';
import { recordLabDeploy, resolveLabSource } from './deploy';
import { OperationRefused, type RequestedOperation, recordOperation } from './operations';
import { destroyIntent, writeIntent } from './outbox';
import { moveLab } from './transitions';

/** A pool's copies are labs of this shape: limits beyond the spec's own are checked when the pool is sized. */
const POOL_QUOTAS = {
  maxCopies: 100,
  maxVms: 10_000,
  maxCpus: 100_000,
  maxMemoryMiB: 1 << 30,
  maxTtlSeconds: 365 * 86400,
};

/** Writes the intent that makes the pool's fill job run (a fresh job per request). */
export function requestPoolFill(trx: Db, poolId: string): Promise<number> {
  return writeIntent(trx, (n) => jobIntent('pool.fill', { poolId }, `pool-fill.${poolId}.${n}`));
}

export interface FillResult {
  poolId: string;
  deployed: string[];
  tornDown: string[];
  live: number;
  size: number;
}

/**
 * Brings the pool to its size: members that failed (or settled degraded) are torn down, missing ones
 * deployed, extra ones (not-yet-ready first) torn down; a draining pool (or a deleted one) keeps none.
 * Runs under the pool's lock, so two fills never both deploy the same missing copy.
 */
export async function fillPool(
  db: Db,
  poolId: string,
  placement: { platformId: string; node: string },
): Promise<FillResult> {
  return inTransaction(db, async (trx) => {
    const pool = await lockPool(trx, poolId);
    const members = await listPoolMembers(trx, poolId);
    const tornDown: string[] = [];
    const destroy = async (labId: string, why: string) => {
      if (!(await moveLab(trx, labId, 'destroy'))) return;
      await writeIntent(trx, destroyIntent('lab', labId));
      await appendEvent(trx, { labId, kind: 'lab.destroy-requested', message: `tear-down requested (pool: ${why})` });
      tornDown.push(labId);
    };
    const broken = members.filter((m) => ['failed', 'degraded', 'cancelled'].includes(m.status));
    for (const member of broken) await destroy(member.id, `member ${member.status}`);
    const live = members.filter((m) => !broken.includes(m));
    const size = pool && pool.status === 'active' ? pool.size : 0;
    // Too many: the ones furthest from ready go first.
    const order = ['queued', 'deploying', 'reverting', 'ready'];
    const extra = [...live]
      .sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status))
      .slice(0, Math.max(0, live.length - size));
    for (const member of extra) await destroy(member.id, 'more copies than its size');
    const deployed: string[] = [];
    if (pool && live.length < size) {
      const resolved = await resolveLabSource(trx, parseStoredLabSource(pool.source), {
        scope: { kind: 'project', project: pool.project },
        quotas: POOL_QUOTAS,
      });
      if (!resolved.ok) {
        const reason = resolved.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
        throw new Error(`pool ${pool.name} cannot deploy its lab: ${reason}`);
      }
      for (let i = live.length; i < size; i++) {
        const { labId } = await recordLabDeploy(trx, {
          spec: { ...resolved.spec, name: `${pool.name}-${randomBytes(3).toString('hex')}` },
          platformId: placement.platformId,
          node: placement.node,
          project: pool.project,
          createdBy: pool.created_by,
          expiresAt: null,
          trainee: resolved.trainee,
          source: resolved.source,
          poolId,
        });
        await appendEvent(trx, {
          labId,
          kind: 'lab.requested',
          message: `deployed ahead of time for pool ${pool.name}`,
        });
        deployed.push(labId);
      }
    }
    return { poolId, deployed, tornDown, live: live.length - extra.length, size };
  });
}

export interface PoolClaim {
  poolId: string;
  project: string;
  /** The lab's name once claimed. @defaultValue the copy's pool name */
  name?: string;
  /** How long it lives from the claim. @defaultValue the lab spec's ttl */
  ttlSeconds?: number;
  createdBy?: string | null;
  /** SSH keys for every copy's trainee VMs, and one per copy. */
  traineeKeys?: string[];
  copyKeys?: string[];
  /** Runs in the claim's transaction once the copy is chosen (e.g. the claiming project's quotas). */
  check?: (trx: Db, lab: { id: string; copies: number; ttlSeconds: number }) => Promise<void>;
}

export interface ClaimedCopy {
  labId: string;
  name: string;
  expiresAt: Date;
  /** The job that puts the claimer's keys on the guests, when there are any. */
  keys?: RequestedOperation;
}

/**
 * Hands the pool's oldest ready copy (one whose `initial` snapshot is taken and that no operation is
 * busy with) to the claimer, and asks the pool for a replacement, in one transaction.
 */
export async function claimFromPool(db: Db, claim: PoolClaim): Promise<ClaimedCopy> {
  return inTransaction(db, async (trx) => {
    const pool = await lockPool(trx, claim.poolId);
    if (!pool) throw new OperationRefused('not_found', 'pool not found');
    const member = await takeReadyPoolMember(trx, claim.poolId);
    if (!member) {
      const members = await listPoolMembers(trx, claim.poolId);
      throw new OperationRefused(
        'conflict',
        `pool ${pool.name} has no ready copy to hand out (${members.length} on the way of ${pool.size}); try again shortly`,
      );
    }
    const ttlSeconds = claim.ttlSeconds ?? parseStoredLabSpec(member.spec).ttlSeconds;
    await claim.check?.(trx, { id: member.id, copies: member.copies, ttlSeconds });
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
    const name = claim.name ?? member.name;
    await markPoolLabClaimed(trx, member.id, {
      name,
      project: claim.project,
      createdBy: claim.createdBy ?? null,
      expiresAt,
    });
    const keys = await recordClaimKeys(trx, member.id, traineeVmsOf(member.source), claim);
    await requestPoolFill(trx, claim.poolId);
    await appendEvent(trx, {
      labId: member.id,
      kind: 'lab.claimed',
      message: `claimed from pool ${pool.name} as ${name} for project ${claim.project}; expires ${expiresAt.toISOString()}`,
      data: { poolId: pool.id },
    });
    return { labId: member.id, name, expiresAt, ...(keys ? { keys } : {}) };
  });
}

/** The claimer's keys go into the trainee VMs' stored specs, and a job puts them on the guests. */
async function recordClaimKeys(
  trx: Db,
  labId: string,
  traineeVms: string[] | undefined,
  claim: PoolClaim,
): Promise<RequestedOperation | undefined> {
  if (!claim.traineeKeys?.length && !claim.copyKeys?.length) return undefined;
  const vms = await listVmsOfLab(trx, labId, ALL_PROJECTS);
  const copies = new Set(vms.map((vm) => vm.copy ?? 0)).size;
  if (claim.copyKeys && claim.copyKeys.length !== copies) {
    throw new OperationRefused('conflict', `copyKeys gives ${claim.copyKeys.length} keys for ${copies} copies`);
  }
  const trainee: TraineeAccess = {
    vms: traineeVms ?? [...new Set(vms.map((vm) => specEntryOf(vm.name)))],
    keys: claim.traineeKeys ?? [],
    copyKeys: claim.copyKeys ?? [],
  };
  let touched = 0;
  for (const vm of vms) {
    const keys = traineeKeysOf(trainee, vm.copy ?? 0, specEntryOf(vm.name, trainee.vms));
    if (keys.length === 0) continue;
    const stored = parseStoredVmSpec(vm.spec);
    stored.cloudInit.sshKeys = [...new Set([...stored.cloudInit.sshKeys, ...keys])];
    await setVmStoredSpec(trx, vm.id, toStoredJson(stored));
    touched++;
  }
  return recordOperation(trx, {
    labId,
    kind: 'claim',
    target: { kind: 'lab' },
    total: touched,
    requestedBy: claim.createdBy ?? null,
  });
}

/** The spec entries that take trainee keys, as the lab's recorded origin names them (`resolveLabSource`). */
function traineeVmsOf(source: unknown): string[] | undefined {
  if (typeof source !== 'object' || source === null || !('traineeVms' in source)) return undefined;
  const names = source.traineeVms;
  return Array.isArray(names) && names.every((name): name is string => typeof name === 'string') ? names : undefined;
}

/** The spec entry a VM instance belongs to (`ws-2` of a counted `ws`), among the known entry names. */
function specEntryOf(instance: string, entries: readonly string[] = []): string {
  if (entries.includes(instance)) return instance;
  const counted = /^(.*)-\d+$/.exec(instance)?.[1];
  return counted && entries.includes(counted) ? counted : instance;
}

/**
 * Deletes a pool: every copy it still holds (not claimed) is torn down, in the same transaction as
 * the pool's row goes. Claimed copies are their claimers' and stay. Returns the labs torn down.
 */
export async function deletePoolWithCopies(db: Db, poolId: string): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const pool = await lockPool(trx, poolId);
    if (!pool) throw new OperationRefused('not_found', 'pool not found');
    const tornDown: string[] = [];
    for (const member of await listPoolMembers(trx, poolId)) {
      if (!(await moveLab(trx, member.id, 'destroy'))) continue;
      await writeIntent(trx, destroyIntent('lab', member.id));
      await appendEvent(trx, {
        labId: member.id,
        kind: 'lab.destroy-requested',
        message: `tear-down requested (pool ${pool.name} deleted)`,
      });
      tornDown.push(member.id);
    }
    await deletePool(trx, poolId);
    return tornDown;
  });
}
