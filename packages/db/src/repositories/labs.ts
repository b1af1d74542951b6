import { LAB_SERVING } from '@glassdome/lab';
import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../connection';
import { inPageOrder, type Keyset, type PageRequest, pageOf, pageQuery } from '../paging';
import type { JsonValue } from '../schema';
import { ALL_PROJECTS, type Scope, scopeCondition } from '../scope';
import { jsonTimeAs } from './steps';
import { type NewVm, newVmColumns } from './vms';

export interface NewLab {
  name: string;
  platformId: string;
  spec: JsonValue;
  graph: JsonValue;
  onFailure: string;
  copies: number;
  expiresAt: Date | null;
  requestId?: string | null;
  createdBy?: string | null;
  /** @defaultValue 'default' */
  project?: string;
}

/** Inserts a queued lab and returns its id. */
export async function insertLab(db: Db, lab: NewLab): Promise<string> {
  const row = await db
    .insertInto('labs')
    .values({
      name: lab.name,
      platform_id: lab.platformId,
      status: 'queued',
      spec: JSON.stringify(lab.spec),
      graph: JSON.stringify(lab.graph),
      on_failure: lab.onFailure,
      copies: lab.copies,
      expires_at: lab.expiresAt,
      request_id: lab.requestId ?? null,
      created_by: lab.createdBy ?? null,
      project: lab.project ?? 'default',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * A lab's VMs, each keeping its plan on its row (`planned_steps`, the names of its steps) instead of
 * step rows: readers show the plan as pending steps (`plannedStepRows`) until `planLabVmSteps` (or
 * the installer, `planVmSteps`) writes the rows. One statement, one parameter for all the rows (a
 * JSON array Postgres takes apart), where a VALUES list took 11 parameters per VM for Kysely to
 * compile and pg to write.
 */
export async function insertLabVms(db: Db, vms: readonly NewVm[], plannedSteps: readonly string[]): Promise<void> {
  if (vms.length === 0) return;
  const rows = vms.map((vm) => ({ ...newVmColumns(vm), spec: vm.spec }));
  await db.executeQuery(CompiledQuery.raw(INSERT_LAB_VMS, [JSON.stringify(rows), JSON.stringify(plannedSteps)]));
}

const INSERT_LAB_VMS = `
  INSERT INTO vms (lab_id, copy, name, os, platform_id, node, status, spec, request_id, created_by, project, planned_steps)
  SELECT r.lab_id, r.copy, r.name, r.os, r.platform_id, r.node, 'queued', r.spec, r.request_id, r.created_by, r.project, $2::jsonb
  FROM json_to_recordset($1::json) AS r(lab_id uuid, copy int, name text, os text, platform_id text,
    node text, spec jsonb, request_id text, created_by uuid, project text)`;

/** The lab with this id, if `scope` may see it. */
export async function getLab(db: Db, id: string, scope: Scope = ALL_PROJECTS) {
  return db.selectFrom('labs').selectAll().where('id', '=', id).where(scopeCondition('labs', scope)).executeTakeFirst();
}

/**
 * What a reader of the lab's timeline needs of it, if `scope` may see it: who created it and its spec
 * (the provisioning texts masked for other readers). A page of events reads this instead of the whole
 * row (its graph, isolation, source and times were parsed for nothing: about 0.1 ms of the API's CPU).
 */
export async function getLabForReader(db: Db, id: string, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('labs')
    .select(['id', 'created_by', 'spec'])
    .where('id', '=', id)
    .where(scopeCondition('labs', scope))
    .executeTakeFirst();
}

/** What a running lab task needs to know of its lab (no spec, no graph: both are large and never change). */
export async function getLabState(db: Db, id: string) {
  return db
    .selectFrom('labs')
    .select(['id', 'name', 'status', 'on_failure', 'request_id', 'error', 'run'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Status and run of many labs in one query (a worker watching the labs its tasks run for). */
export async function getLabRunStates(db: Db, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('labs')
    .select(['id', 'status', 'run'])
    .where('id', 'in', [...ids])
    .execute();
}

/** The lab's task graph (written once, at deploy). */
export async function getLabGraph(db: Db, id: string): Promise<JsonValue | undefined> {
  const row = await db.selectFrom('labs').select('graph').where('id', '=', id).executeTakeFirst();
  return row?.graph;
}

/** The lab's status alone: what the event stream polls. */
export async function getLabStatus(db: Db, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('labs').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}

/** The order of `listLabs`: newest first (labs_created_* indexes, migration 0009). */
export const LABS_NEWEST: Keyset = { list: 'labs', at: 'labs.created_at', id: 'labs.id', idType: 'uuid' };

/**
 * Labs, newest first, one page of them. A lab's spec (often kilobytes) comes only with a lab that
 * has an error: a list shows no spec, and redacts provisioning texts only out of errors. Its times
 * come as JSON prints them (`jsonTime`), written for the page's rows once it is cut (a deprecated
 * offset skips rows unwritten): parsing each into a Date only to print it again took about 200 of
 * the 690 µs of CPU a page of 50 cost its reader (in-process, 100,000 labs).
 */
export async function listLabs(
  db: Db,
  filter: { status?: string | undefined } & PageRequest,
  scope: Scope = ALL_PROJECTS,
) {
  let query = db
    .selectFrom('labs')
    .select([
      'id',
      'name',
      'project',
      'status',
      'copies',
      'on_failure',
      'expires_at',
      'error',
      sql<JsonValue | null>`CASE WHEN error IS NULL THEN NULL ELSE spec END`.as('spec'),
      'created_by',
      'created_at',
      'updated_at',
    ])
    .where(scopeCondition('labs', scope));
  if (filter.status) query = query.where('status', '=', filter.status);
  const rows = await inPageOrder(db.selectFrom(pageQuery(query, LABS_NEWEST, filter).as('page')), LABS_NEWEST)
    .select([
      'page.id',
      'page.name',
      'page.project',
      'page.status',
      'page.copies',
      'page.on_failure',
      jsonTimeAs('page.expires_at', 'expires_at', true),
      'page.error',
      'page.spec',
      'page.created_by',
      jsonTimeAs('page.created_at', 'created_at'),
      jsonTimeAs('page.updated_at', 'updated_at'),
      sql<string>`page.page_key`.as('page_key'),
    ])
    .execute();
  return pageOf(rows, LABS_NEWEST, filter);
}

/**
 * Moves a lab from one of `from` to `to` in one conditional UPDATE; returns whether it moved. Only
 * `@glassdome/lab-run` calls this (its named transitions say which `from` each change allows).
 */
export async function setLabStatus(
  db: Db,
  id: string,
  change: { from: readonly string[]; to: string; error?: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('labs')
    .set({ status: change.to, updated_at: sql`now()`, ...(change.error === undefined ? {} : { error: change.error }) })
    .where('id', '=', id)
    .where('status', 'in', change.from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Starts the lab's next run: failed lab tasks back to pending and the run counter advanced; returns
 * the new run and the lab tasks already done (which the new run does not repeat).
 */
export async function advanceLabRun(db: Db, labId: string): Promise<{ run: number; doneTasks: string[] }> {
  await db
    .updateTable('steps')
    .set({ status: 'pending', error: null, started_at: null, finished_at: null })
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', 'in', ['failed', 'skipped', 'running'])
    .execute();
  const { run } = await db
    .updateTable('labs')
    .set((eb) => ({ run: eb('run', '+', 1), updated_at: sql`now()` }))
    .where('id', '=', labId)
    .returning('run')
    .executeTakeFirstOrThrow();
  const done = await db
    .selectFrom('steps')
    .select('name')
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', '=', 'done')
    .execute();
  return { run, doneTasks: done.map((row) => row.name) };
}

export async function deleteLab(db: Db, id: string): Promise<void> {
  await db.deleteFrom('labs').where('id', '=', id).execute();
}

export async function countLabsByStatus(db: Db, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('labs')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where(scopeCondition('labs', scope))
    .groupBy('status')
    .execute();
}

/** A platform's labs whose status is not in `notInStatuses`. */
export async function listLabsOfPlatform(db: Db, platformId: string, notInStatuses: readonly string[]) {
  return db
    .selectFrom('labs')
    .select(['id', 'name', 'status', 'expires_at'])
    .where('platform_id', '=', platformId)
    .where('status', 'not in', [...notInStatuses])
    .execute();
}

/**
 * The lab's recorded isolation result, its row locked until the transaction ends (so results of
 * several copies merged into it one after another lose none); undefined when the lab is gone.
 */
export async function lockLabIsolation(trx: Db, labId: string): Promise<{ isolation: JsonValue | null } | undefined> {
  return trx.selectFrom('labs').select('isolation').where('id', '=', labId).forUpdate().executeTakeFirst();
}

/** Records the result of the lab's isolation check (shown with the lab). */
export async function setLabIsolation(db: Db, labId: string, isolation: JsonValue): Promise<void> {
  await db
    .updateTable('labs')
    .set({ isolation: JSON.stringify(isolation), updated_at: sql`now()` })
    .where('id', '=', labId)
    .execute();
}

/**
 * What the overseer watches of each live (ready or degraded) lab on a platform: its last isolation
 * check, and each VM's firewall digest as the installer applied it (the `firewall` step's detail).
 */
export async function listLiveLabContainment(db: Db, platformId: string) {
  const labs = await db
    .selectFrom('labs')
    .select(['id', 'name', 'isolation'])
    .where('platform_id', '=', platformId)
    .where('status', 'in', [...LAB_SERVING])
    .execute();
  if (labs.length === 0) return [];
  const vms = await db
    .selectFrom('vms')
    .innerJoin('steps', 'steps.vm_id', 'vms.id')
    .select(['vms.id', 'vms.lab_id', 'vms.name', 'vms.copy', 'vms.vmid', 'vms.node', 'steps.detail'])
    .where(
      'vms.lab_id',
      'in',
      labs.map((lab) => lab.id),
    )
    .where('vms.status', '=', 'ready')
    .where('steps.name', '=', 'firewall')
    .where('steps.status', '=', 'done')
    .execute();
  return labs.map((lab) => ({
    ...lab,
    vms: vms
      .filter((vm) => vm.lab_id === lab.id && vm.vmid !== null)
      .map((vm) => ({
        id: vm.id,
        name: vm.name,
        copy: vm.copy,
        vmid: vm.vmid!,
        node: vm.node,
        digest: (vm.detail as { digest?: string } | null)?.digest ?? null,
        // The VM's netN lines as applied (older deploys recorded none).
        nicDigest: (vm.detail as { nicDigest?: string } | null)?.nicDigest ?? null,
        appliedAt: (vm.detail as { appliedAt?: string } | null)?.appliedAt ?? null,
      })),
  }));
}
