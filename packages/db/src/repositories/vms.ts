import { CompiledQuery, sql } from 'kysely';
import { type Db, preparedByName } from '../connection';
import { type Keyset, type PageRequest, pageOf, pageQuery } from '../paging';
import type { JsonValue } from '../schema';
import { ALL_PROJECTS, type Scope, scopeCondition } from '../scope';
import { jsonTime, shownStepsOfVm } from './steps';

export interface NewVm {
  labId?: string | null;
  copy?: number | null;
  name: string;
  os: string;
  platformId: string;
  node: string;
  spec: JsonValue;
  requestId?: string | null;
  createdBy?: string | null;
  /** @defaultValue 'default' */
  project?: string;
}

/** Inserts queued VMs and returns their ids in input order. */
export async function insertVms(db: Db, vms: NewVm[]): Promise<string[]> {
  if (vms.length === 0) return [];
  const rows = await db
    .insertInto('vms')
    .values(
      vms.map((vm) => ({
        lab_id: vm.labId ?? null,
        copy: vm.copy ?? null,
        name: vm.name,
        os: vm.os,
        platform_id: vm.platformId,
        node: vm.node,
        status: 'queued',
        spec: JSON.stringify(vm.spec),
        request_id: vm.requestId ?? null,
        created_by: vm.createdBy ?? null,
        project: vm.project ?? 'default',
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Quota limits in force for a project when it has no overrides of its own (QUOTA_* defaults). */
export interface VmQuotaDefaults {
  maxVms: number;
  maxVcpus: number;
  maxMemoryMiB: number;
}

/** What `insertQueuedVm` did: the VM's id, or why not (what the project holds, and its limits). */
export type QueuedVm = { inserted: true; id: string; outboxId: number } | NotQueued;

/** Why nothing was written: the project does not exist yet, or a quota would be exceeded. */
export type NotQueued =
  | { inserted: false; reason: 'no-project' }
  | {
      inserted: false;
      reason: 'quota';
      usage: { vms: number; vcpus: number; memoryMiB: number };
      limits: { maxVms: number; maxVcpus: number; maxMemoryMiB: number };
    };

/** A standalone VM to queue: its row (the id is the caller's), what it counts against the quotas, its intent. */
export type QueuedVmInput = NewVm & { id: string; cpus: number; memoryMiB: number; intent: JsonValue };

/** What `insertQueuedVms` did: every VM written with its intent's outbox row, or none and why. */
export type QueuedVms = { inserted: true; outbox: { id: number; intent: unknown }[] } | NotQueued;

/**
 * A standalone VM, its plan and the intent that deploys it, in one statement — one round trip,
 * committed on its own — checked against the project's quotas. See `insertQueuedVms`.
 */
export async function insertQueuedVm(
  db: Db,
  vm: NewVm & { id: string; project: string; cpus: number; memoryMiB: number },
  steps: readonly string[],
  intent: JsonValue,
  defaults: VmQuotaDefaults,
): Promise<QueuedVm> {
  const queued = await insertQueuedVms(db, vm.project, [{ ...vm, intent }], steps, defaults);
  return queued.inserted ? { inserted: true, id: vm.id, outboxId: queued.outbox[0]!.id } : queued;
}

/**
 * Standalone VMs of one project, their plans and the intents that deploy them, in one statement —
 * one round trip, one commit however many there are (the API gathers concurrent deploys into one) —
 * checked against the project's quotas in the same statement. A VM's plan (`steps`, in order) is
 * kept on its row (`planned_steps`, migration 0013), not as step rows: the installer writes those
 * when it takes the job (`planVmSteps`), and readers show the plan as pending steps until then
 * (`plannedStepRows`), so a deploy writes one row instead of ten. The project's usage row
 * (kept by triggers, migration 0010) is locked first, so concurrent deploys of one project are
 * counted one after the other and the lock is held only while this statement and its commit run.
 * All or nothing: when the project does not exist yet or the VMs together would exceed a quota,
 * nothing is written and the answer says which; a name already taken fails the whole statement
 * (23505). Returns the intents' outbox rows, for the relay. `sentOutboxIds`: outbox rows of intents
 * already in BullMQ (OutboxRelay.takeSent), deleted by this statement whatever it answers (a failed
 * statement deletes nothing), so their delete costs no statement and no commit of its own. Rows a
 * relay pass holds are skipped, not waited for (the pass deletes them): the deploys would otherwise
 * wait, the project's usage row locked, for the pass's round trip to Redis.
 */
export async function insertQueuedVms(
  db: Db,
  project: string,
  vms: readonly QueuedVmInput[],
  steps: readonly string[],
  defaults: VmQuotaDefaults,
  sentOutboxIds: readonly number[] = [],
): Promise<QueuedVms> {
  const column = <T>(value: (vm: QueuedVmInput) => T) => vms.map(value);
  let cpus = 0;
  let memoryMiB = 0;
  for (const vm of vms) {
    cpus += vm.cpus;
    memoryMiB += vm.memoryMiB;
  }
  const parameters: unknown[] = [
    defaults.maxVms,
    defaults.maxVcpus,
    defaults.maxMemoryMiB,
    project,
    vms.length,
    cpus,
    memoryMiB,
    column((vm) => vm.id),
    column((vm) => vm.name),
    column((vm) => vm.os),
    column((vm) => vm.platformId),
    column((vm) => vm.node),
    column((vm) => JSON.stringify(vm.spec)),
    column((vm) => vm.requestId ?? null),
    column((vm) => vm.createdBy ?? null),
    column((vm) => JSON.stringify(vm.intent)),
    JSON.stringify(steps),
  ];
  if (sentOutboxIds.length > 0) parameters.push([...sentOutboxIds]);
  const text = sentOutboxIds.length > 0 ? QUEUED_VMS_DELETING_SENT : QUEUED_VMS;
  const result = await db.executeQuery<QueuedVmsRow>(CompiledQuery.raw(text, parameters));
  const row = result.rows[0];
  if (!row) return { inserted: false, reason: 'no-project' };
  if (row.outbox) return { inserted: true, outbox: row.outbox };
  return {
    inserted: false,
    reason: 'quota',
    usage: { vms: row.vms, vcpus: Number(row.vcpus), memoryMiB: Number(row.memory_mib) },
    limits: { maxVms: row.max_vms, maxVcpus: row.max_vcpus, maxMemoryMiB: row.max_memory_mib },
  };
}

interface QueuedVmsRow {
  outbox: { id: number; intent: unknown }[] | null;
  vms: number;
  vcpus: string;
  memory_mib: string;
  max_vms: number;
  max_vcpus: number;
  max_memory_mib: number;
}

/**
 * `insertQueuedVms`' statement, its text fixed (the parameters carry every value: $1-$3 the default
 * limits, $4 the project, $5-$7 what the batch adds, $8-$16 the VMs' columns as arrays, $17 the plan,
 * $18 the sent outbox ids when there are any): written here once, not composed and compiled by Kysely
 * for every batch, and run as a named prepared statement (`preparedByName`).
 */
function queuedVmsStatement(deletingSent: boolean): string {
  const text = `
    WITH quota AS (
      SELECT u.vms, u.vcpus, u.memory_mib,
             coalesce(p.max_vms, $1) AS max_vms,
             coalesce(p.max_vcpus, $2) AS max_vcpus,
             coalesce(p.max_memory_mib, $3) AS max_memory_mib
      FROM project_usage u JOIN projects p ON p.name = u.project
      WHERE u.project = $4
      FOR UPDATE OF u
    ), allowed AS (
      SELECT 1 FROM quota
      WHERE vms + $5 <= max_vms AND vcpus + $6 <= max_vcpus AND memory_mib + $7 <= max_memory_mib
    ), input AS (
      SELECT * FROM unnest(
        $8::uuid[], $9::text[], $10::text[], $11::text[], $12::text[],
        $13::jsonb[], $14::text[], $15::uuid[], $16::jsonb[]
      ) WITH ORDINALITY AS i(id, name, os, platform_id, node, spec, request_id, created_by, intent, position)
    ), vm AS (
      INSERT INTO vms (id, lab_id, copy, name, os, platform_id, node, status, spec, request_id, created_by, project, planned_steps)
      SELECT i.id, NULL, NULL, i.name, i.os, i.platform_id, i.node, 'queued', i.spec, i.request_id, i.created_by, $4,
             $17::jsonb
      FROM input i, allowed
      ORDER BY i.position
      RETURNING id
    ), intent AS (
      INSERT INTO outbox (intent)
      SELECT i.intent FROM input i JOIN vm ON vm.id = i.id ORDER BY i.position
      RETURNING id, intent
    )${
      deletingSent
        ? `, sent AS (
      DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox WHERE id = ANY($18::bigint[]) FOR UPDATE SKIP LOCKED))`
        : ''
    }
    SELECT (SELECT json_agg(json_build_object('id', id, 'intent', intent) ORDER BY id) FROM intent) AS outbox,
           vms, vcpus::text, memory_mib::text, max_vms, max_vcpus, max_memory_mib
    FROM quota`;
  // One text with the delete and one without, each prepared once per connection.
  preparedByName(text);
  return text;
}

const QUEUED_VMS = queuedVmsStatement(false);
const QUEUED_VMS_DELETING_SENT = queuedVmsStatement(true);

/** The VMs `scope` may see, every column. */
const vmsIn = (db: Db, scope: Scope) => db.selectFrom('vms').selectAll().where(scopeCondition('vms', scope));

/** The VM with this id, if `scope` may see it. */
export async function getVm(db: Db, id: string, scope: Scope = ALL_PROJECTS) {
  return vmsIn(db, scope).where('id', '=', id).executeTakeFirst();
}

/** The steps of the VMs read as the API shows them (`shownStepsOfVm`): JSON text, not parsed here. */
const shownSteps = (vmId: 'vms.id' | 'page.id') => sql<string>`${sql.raw(shownStepsOfVm(vmId))}`.as('steps');

/** `getVm` with the VM's steps as the API shows them — one statement. */
export async function getVmWithSteps(db: Db, id: string, scope: Scope = ALL_PROJECTS) {
  return vmsIn(db, scope).select(shownSteps('vms.id')).where('id', '=', id).executeTakeFirst();
}

/** The order of `listStandaloneVms`: newest first (vms_standalone_* indexes, migration 0009). */
export const STANDALONE_VMS: Keyset = { list: 'vms', at: 'vms.created_at', id: 'vms.id', idType: 'uuid' };

const shownTime = (column: string) => sql<string>`${sql.raw(jsonTime(column))}`;

/**
 * Standalone VMs (not part of a lab), newest first, one page of them, each with its steps as the
 * API shows them — one statement. The columns are those the VM list shows (and `created_by`, whose
 * reader sees what), its times as JSON prints them (`jsonTime`): a page carries some 450 steps, and
 * parsing each time into a Date only to print it again was most of the list's cost
 * (bench/lists.bench.ts). Times and steps are computed for the page's rows only, once it is cut (a
 * deprecated offset skips rows unread).
 */
export async function listStandaloneVms(
  db: Db,
  filter: { status?: string | undefined } & PageRequest,
  scope: Scope = ALL_PROJECTS,
) {
  let query = db
    .selectFrom('vms')
    .select([
      'vms.id',
      'vms.name',
      'vms.project',
      'vms.os',
      'vms.status',
      'vms.lab_id',
      'vms.copy',
      'vms.node',
      'vms.vmid',
      'vms.ip',
      'vms.spec',
      'vms.desired_state',
      'vms.observed_status',
      'vms.observed_at',
      'vms.error',
      'vms.created_by',
      'vms.created_at',
      'vms.updated_at',
    ])
    .where('lab_id', 'is', null)
    .where(scopeCondition('vms', scope));
  if (filter.status) query = query.where('status', '=', filter.status);
  const statement = db
    .selectFrom(pageQuery(query, STANDALONE_VMS, filter).as('page'))
    .select([
      'page.id',
      'page.name',
      'page.project',
      'page.os',
      'page.status',
      'page.lab_id',
      'page.copy',
      'page.node',
      'page.vmid',
      'page.ip',
      'page.spec',
      'page.desired_state',
      'page.observed_status',
      shownTime('page.observed_at').as('observed_at'),
      'page.error',
      'page.created_by',
      shownTime('page.created_at').as('created_at'),
      shownTime('page.updated_at').as('updated_at'),
      sql<string>`page.page_key`.as('page_key'),
      shownSteps('page.id'),
    ])
    .orderBy('page.created_at', 'desc')
    .orderBy('page.id', 'desc')
    .compile();
  // A page read by cursor (or the first page) has one text per filter, cursor and scope kind, at most
  // eight for admins and project keys (a trainee's scope sees no standalone VM): each is parsed once
  // per connection and then only bound. Postgres still plans each run for its parameters (its
  // generic plan, which cannot know the page's LIMIT, is a sequential scan it never picks).
  if ((filter.cursor || !filter.offset) && scope.kind !== 'copy') preparedByName(statement.sql);
  const rows = (await db.executeQuery(statement)).rows;
  return pageOf(rows, STANDALONE_VMS, filter);
}

/** A lab's VMs in copy and name order (only its one copy for a trainee's scope). */
const vmsOfLab = (db: Db, labId: string, scope: Scope) =>
  vmsIn(db, scope).where('lab_id', '=', labId).orderBy('copy').orderBy('name');

/** A lab's VMs (only its one copy for a trainee's scope). */
export async function listVmsOfLab(db: Db, labId: string, scope: Scope = ALL_PROJECTS) {
  return vmsOfLab(db, labId, scope).execute();
}

/** `listVmsOfLab` with each VM's steps as the API shows them — one statement. */
export async function listVmsOfLabWithSteps(db: Db, labId: string, scope: Scope = ALL_PROJECTS) {
  return vmsOfLab(db, labId, scope).select(shownSteps('vms.id')).execute();
}

/**
 * Moves a VM from one of `from` to `to` in one conditional UPDATE; returns whether it moved. Only
 * `@glassdome/lab-run` calls this (its named transitions say which `from` each change allows).
 */
export async function setVmStatus(
  db: Db,
  id: string,
  change: { from: readonly string[]; to: string; error?: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('vms')
    .set({ status: change.to, updated_at: sql`now()`, ...(change.error === undefined ? {} : { error: change.error }) })
    .where('id', '=', id)
    .where('status', 'in', change.from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The same move for every VM of a lab that is in one of `from`; returns the ids that moved. */
export async function setVmStatusOfLab(
  db: Db,
  labId: string,
  change: { from: readonly string[]; to: string; error?: string | null },
): Promise<string[]> {
  const rows = await db
    .updateTable('vms')
    .set({ status: change.to, updated_at: sql`now()`, ...(change.error === undefined ? {} : { error: change.error }) })
    .where('lab_id', '=', labId)
    .where('status', 'in', change.from)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

export async function deleteVm(db: Db, id: string): Promise<void> {
  await db.deleteFrom('vms').where('id', '=', id).execute();
}

/** VM counts by status, for reports and metrics. */
export async function countVmsByStatus(db: Db, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('vms')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where(scopeCondition('vms', scope))
    .groupBy('status')
    .execute();
}

/** Forgets where a VM was (VMID, IP, last error) so it can be deployed afresh. */
export async function clearVmPlacement(db: Db, vmId: string): Promise<void> {
  await db
    .updateTable('vms')
    .set({ vmid: null, ip: null, error: null, updated_at: sql`now()` })
    .where('id', '=', vmId)
    .execute();
}

/** Records where a VM landed: its VMID, IP and node, as the deploy learns them. */
export async function setVmPlacement(
  db: Db,
  vmId: string,
  placement: Partial<{ vmid: number | null; ip: string | null; node: string }>,
): Promise<void> {
  await db
    .updateTable('vms')
    .set({ ...placement, updated_at: sql`now()` })
    .where('id', '=', vmId)
    .execute();
}

/** Marks a VM as wanted gone, whatever its status (the overseer stops reconciling it). */
export async function setVmDesiredAbsent(db: Db, vmId: string): Promise<void> {
  await db.updateTable('vms').set({ desired_state: 'absent', updated_at: sql`now()` }).where('id', '=', vmId).execute();
}

/** A platform's VMs not in `notInStatuses`, each with its lab's status (null for standalone VMs). */
export async function listVmsOfPlatformWithLabStatus(db: Db, platformId: string, notInStatuses: readonly string[]) {
  return db
    .selectFrom('vms')
    .leftJoin('labs', 'labs.id', 'vms.lab_id')
    .select([
      'vms.id',
      'vms.name',
      'vms.lab_id',
      'labs.status as lab_status',
      'vms.status',
      'vms.desired_state',
      'vms.vmid',
      'vms.node',
      'vms.ip',
    ])
    .where('vms.platform_id', '=', platformId)
    .where('vms.status', 'not in', [...notInStatuses])
    .execute();
}

/** Records what Proxmox reported for these VMs (`observed_status`, `observed_at = now()`) in one statement. */
export async function setObservedStatuses(db: Db, observed: readonly { id: string; status: string }[]): Promise<void> {
  if (observed.length === 0) return;
  const values = sql.join(observed.map((row) => sql`(${row.id}::uuid, ${row.status})`));
  await sql`
    update vms set observed_status = v.status, observed_at = now()
    from (values ${values}) as v(id, status)
    where vms.id = v.id`.execute(db);
}

/** The first VM record holding this VMID whose status is not in `notInStatuses`. */
export async function findVmByVmid(db: Db, vmid: number, notInStatuses: readonly string[]) {
  return db
    .selectFrom('vms')
    .select(['id', 'status'])
    .where('vmid', '=', vmid)
    .where('status', 'not in', [...notInStatuses])
    .executeTakeFirst();
}
