import { CompiledQuery, sql } from 'kysely';
import { type Db, preparedByName } from '../connection';
import { encodeCursor, type Keyset, type Page, type PageRequest } from '../paging';
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

/** A row of `listStandaloneVms`: the columns the VM list shows, its times as JSON prints them, its steps as JSON text. */
export interface StandaloneVmRow {
  id: string;
  name: string;
  project: string;
  os: string;
  status: string;
  lab_id: string | null;
  copy: number | null;
  node: string;
  vmid: number | null;
  ip: string | null;
  spec: JsonValue;
  desired_state: string;
  observed_status: string | null;
  observed_at: string | null;
  error: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  steps: string;
}

/**
 * Rows a page of standalone VMs reads at most before its LIMIT parameter cuts it (the API's largest
 * page, 500, and the row that tells whether another follows). Postgres plans a prepared statement
 * once for all parameters (its generic plan) only if that plan is as cheap as those it makes for each
 * run; a LIMIT that is a parameter it estimates as a tenth of the table, for which a sequential scan
 * and a sort win, so without a bound written into the text it planned every run anew (about a third
 * of the statement's time on a warm connection). Bounded so, the generic plan is the index walk.
 */
const PAGE_BOUND = 501;

/** Which statement a page of standalone VMs is read with (`standaloneVmsText`). */
interface StandaloneVmsVariant {
  project: boolean;
  status: boolean;
  cursor: boolean;
  /** A deprecated offset (then neither bounded nor prepared: its plan depends on the offset). */
  offset: boolean;
  /** Whether `PAGE_BOUND` holds the page (a limit below it). */
  bounded: boolean;
}

/**
 * The statement text of one variant, its parameters numbered in this order: the project, the status,
 * the cursor's time and id, the limit, the offset (those the variant has). Written once per variant,
 * so its text is the same string at every run (prepared by name, `preparedByName`) and no query
 * builder composes and compiles it per request (a tenth of the API's CPU per `GET /vms` page).
 */
function standaloneVmsText(variant: StandaloneVmsVariant): string {
  const conditions = ['vms.lab_id IS NULL'];
  let parameter = 0;
  const next = () => `$${++parameter}`;
  if (variant.project) conditions.push(`vms.project = ${next()}`);
  if (variant.status) conditions.push(`vms.status = ${next()}`);
  if (variant.cursor) conditions.push(`(vms.created_at, vms.id) < (${next()}::timestamptz, ${next()}::uuid)`);
  const order = 'ORDER BY vms.created_at DESC, vms.id DESC';
  const rows = `SELECT vms.id, vms.name, vms.project, vms.os, vms.status, vms.lab_id, vms.copy, vms.node, vms.vmid,
        vms.ip, vms.spec, vms.desired_state, vms.observed_status, vms.observed_at, vms.error, vms.created_by,
        vms.created_at, vms.updated_at
      FROM vms WHERE ${conditions.join(' AND ')} ${order}`;
  const limit = next();
  const page = variant.offset
    ? `${rows} LIMIT ${limit} OFFSET ${next()}`
    : variant.bounded
      ? `SELECT * FROM (${rows} LIMIT ${PAGE_BOUND}) bounded LIMIT ${limit}`
      : `${rows} LIMIT ${limit}`;
  return `SELECT page.id, page.name, page.project, page.os, page.status, page.lab_id, page.copy, page.node, page.vmid,
    page.ip, page.spec, page.desired_state, page.observed_status, ${jsonTime('page.observed_at')} AS observed_at,
    page.error, page.created_by, ${jsonTime('page.created_at')} AS created_at, ${jsonTime('page.updated_at')} AS updated_at,
    to_char(page.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS page_key,
    ${shownStepsOfVm('page.id')} AS steps
  FROM (${page}) page
  ORDER BY page.created_at DESC, page.id DESC`;
}

/** The texts written so far, by variant (a few dozen at most; only the eight bounded ones without an offset are prepared). */
const STANDALONE_VMS_TEXTS = new Map<string, string>();

/**
 * Standalone VMs (not part of a lab), newest first, one page of them, each with its steps as the
 * API shows them — one statement. The columns are those the VM list shows (and `created_by`, whose
 * reader sees what), its times as JSON prints them (`jsonTime`): a page carries some 450 steps, and
 * parsing each time into a Date only to print it again was most of the list's cost
 * (bench/lists.bench.ts). Times and steps are computed for the page's rows only, once it is cut (a
 * deprecated offset skips rows unread). A trainee's scope (one lab copy) sees no standalone VM.
 */
export async function listStandaloneVms(
  db: Db,
  filter: { status?: string | undefined } & PageRequest,
  scope: Scope = ALL_PROJECTS,
): Promise<Page<StandaloneVmRow>> {
  // The fixed texts decide the scope as scopeCondition('vms', ...) would; a new kind of scope must be
  // placed here too (the switch does not compile without it).
  let project: string | undefined;
  switch (scope.kind) {
    case 'copy':
      return { items: [], nextCursor: null };
    case 'project':
      project = scope.project;
      break;
    case 'all':
      break;
    default:
      return scope satisfies never;
  }
  const cursor = filter.cursor;
  const offset = !cursor && filter.offset ? filter.offset : undefined;
  const variant: StandaloneVmsVariant = {
    project: project !== undefined,
    status: Boolean(filter.status),
    cursor: cursor !== undefined,
    offset: offset !== undefined,
    bounded: filter.limit < PAGE_BOUND,
  };
  const key = `${+variant.project}${+variant.status}${+variant.cursor}${+variant.offset}${+variant.bounded}`;
  let text = STANDALONE_VMS_TEXTS.get(key);
  if (text === undefined) {
    text = standaloneVmsText(variant);
    STANDALONE_VMS_TEXTS.set(key, text);
    // A page read by cursor (or the first page) has one text per filter, cursor and scope kind (eight
    // for pages under PAGE_BOUND): each is parsed once per connection and then only bound.
    if (!variant.offset && variant.bounded) preparedByName(text);
  }
  const parameters: unknown[] = [];
  if (project !== undefined) parameters.push(project);
  if (filter.status) parameters.push(filter.status);
  if (cursor) parameters.push(cursor.at, cursor.id);
  parameters.push(filter.limit + 1);
  if (offset !== undefined) parameters.push(offset);
  const rows = (await db.executeQuery<StandaloneVmRow & { page_key: string }>(CompiledQuery.raw(text, parameters)))
    .rows;
  const more = rows.length > filter.limit;
  if (more) rows.length = filter.limit;
  const last = rows.at(-1);
  const nextCursor = more && last ? encodeCursor({ list: STANDALONE_VMS.list, at: last.page_key, id: last.id }) : null;
  return { items: rows.map(withoutPageKey), nextCursor };
}

/**
 * A row without its position column, written out field by field: every row gets the same shape at
 * once (pageOf's rest copy, `{ [key]: _, ...rest }`, takes V8's generic path for each).
 */
function withoutPageKey(row: StandaloneVmRow & { page_key: string }): StandaloneVmRow {
  return {
    id: row.id,
    name: row.name,
    project: row.project,
    os: row.os,
    status: row.status,
    lab_id: row.lab_id,
    copy: row.copy,
    node: row.node,
    vmid: row.vmid,
    ip: row.ip,
    spec: row.spec,
    desired_state: row.desired_state,
    observed_status: row.observed_status,
    observed_at: row.observed_at,
    error: row.error,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
    steps: row.steps,
  };
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
