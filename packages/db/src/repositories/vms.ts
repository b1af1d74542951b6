import { CompiledQuery, type Expression, type RawBuilder, sql } from 'kysely';
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

/** The columns of a new VM's row that come from `NewVm` as they are (its status and spec are the writer's). */
export function newVmColumns(vm: NewVm) {
  return {
    lab_id: vm.labId ?? null,
    copy: vm.copy ?? null,
    name: vm.name,
    os: vm.os,
    platform_id: vm.platformId,
    node: vm.node,
    request_id: vm.requestId ?? null,
    created_by: vm.createdBy ?? null,
    project: vm.project ?? 'default',
  };
}

/** Inserts queued VMs and returns their ids in input order. */
export async function insertVms(db: Db, vms: NewVm[]): Promise<string[]> {
  if (vms.length === 0) return [];
  const rows = await db
    .insertInto('vms')
    .values(vms.map((vm) => ({ ...newVmColumns(vm), status: 'queued', spec: JSON.stringify(vm.spec) })))
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

/**
 * A VM as the API shows it (`GET /vms`, `GET /vms/:id` and a lab's VMs in `GET /labs/:id`), read:
 * the one place its shape is defined is `shownVmText`, whose JSON text Postgres writes and the API
 * puts into its answers as it is. Masking what a reader may not see stays the API's (its redactor):
 * `spec` is there only when the text holds an error that may quote provisioning text.
 */
export interface ShownVm {
  id: string;
  /** The key that created the VM (its creator and admins see its provisioning text). */
  created_by: string | null;
  /**
   * The stored spec, as JSON text, when the VM has an error or one of its steps has (the texts a
   * reader may need masked; the spec says what to mask); null when there is nothing to mask.
   */
  spec: string | null;
  /** The VM as the API shows it, JSON text (`shownVmText`). */
  shown: string;
}

/** A column's value as JSON text: a JSON string for text (escaped as JSON.stringify escapes it), null as null. */
const jsonValue = (column: string) => `coalesce(to_json(${column})::text, 'null')`;

/** A timestamp as `jsonTime` prints it, as a JSON string (null as null). */
const jsonTimeValue = (column: string) => `coalesce('"' || ${jsonTime(column)} || '"', 'null')`;

/**
 * The JSON text of a VM as the API shows it, written by Postgres: `v` names a row with the VM's
 * columns and its steps as the API shows them (`steps`, `shownStepsOfVm`), `port` (SQL text) the
 * guests' SSH port. Its fields in order: identity, status and placement; `access`, how an operator
 * or trainee reaches it (its management address, the guests' SSH port and the cloud-init user its
 * owner logs in as; null without an address or a user); `addresses`, its address on each of its lab
 * networks (the same in every copy); its sizes (each left out when its spec has none); desired and
 * observed state; its error; times (as JSON prints a Date); steps last. The stored spec is not
 * echoed: provisioning content is the user's and may hold anything, so only the sizes, the login
 * user and the lab addresses are shown. Each value is written as JSON.stringify writes it for specs
 * as `storedVmSpec` writes them (a network's name is a string there; another value is printed as
 * `String` would print a scalar). One `concat` (a chain of `||` copied the growing text at each
 * step); Postgres spends about 0.3 ms more per page of 50 on it than on sending the columns and the
 * spec, and the API no longer parses 50 specs and builds 50 objects (bench/lists.bench.ts).
 */
function shownVmText(v: string, port: string): string {
  const spec = `${v}.spec`;
  const user = `${spec}->'cloudInit'->'user'`;
  const size = (field: string) => `',"${field}":' || (${spec}->'${field}')::text`;
  const networkName = `CASE WHEN n.network->'name' IS NULL THEN 'undefined' ELSE coalesce(n.network->>'name', 'null') END`;
  const address = `CASE WHEN jsonb_typeof(n.network->'ip') = 'string' THEN to_json(n.network->>'ip')::text ELSE 'null' END`;
  const addresses = `CASE WHEN jsonb_typeof(${spec}->'networks') = 'array' THEN coalesce((
      SELECT '[' || string_agg(concat('{"network":', to_json(${networkName}), ',"address":', ${address}, '}'),
        ',' ORDER BY n.position) || ']'
      FROM jsonb_array_elements(${spec}->'networks') WITH ORDINALITY AS n(network, position)), '[]')
    ELSE '[]' END`;
  // Nested: an AND with a null operand (a VM without an address) evaluates them all.
  const access = `CASE WHEN ${v}.ip IS NULL OR ${v}.ip = '' THEN 'null'
    WHEN jsonb_typeof(${user}) = 'string' AND ${user} <> '""'
    THEN concat('{"host":', to_json(${v}.ip), ',"port":', (${port})::int, ',"user":', ${user}, '}')
    ELSE 'null' END`;
  return `concat('{"id":"', ${v}.id, '","name":', to_json(${v}.name), ',"project":', to_json(${v}.project),
    ',"os":', to_json(${v}.os), ',"status":', to_json(${v}.status),
    ',"labId":', coalesce('"' || ${v}.lab_id || '"', 'null'), ',"copy":', coalesce(${v}.copy::text, 'null'),
    ',"node":', to_json(${v}.node), ',"vmid":', coalesce(${v}.vmid::text, 'null'),
    ',"ip":', ${jsonValue(`${v}.ip`)}, ',"access":', ${access}, ',"addresses":', ${addresses},
    ${size('cpus')}, ${size('memoryMiB')}, ${size('diskGiB')},
    ',"desiredState":', to_json(${v}.desired_state), ',"observedStatus":', ${jsonValue(`${v}.observed_status`)},
    ',"observedAt":', ${jsonTimeValue(`${v}.observed_at`)}, ',"error":', ${jsonValue(`${v}.error`)},
    ',"createdAt":"', ${jsonTime(`${v}.created_at`)}, '","updatedAt":"', ${jsonTime(`${v}.updated_at`)},
    '","steps":', ${v}.steps, '}')`;
}

/** The columns of `vms` that `shownVmText` and `ShownVm` read. */
const SHOWN_VM_COLUMNS = `vms.id, vms.name, vms.project, vms.os, vms.status, vms.lab_id, vms.copy, vms.node, vms.vmid,
  vms.ip, vms.spec, vms.desired_state, vms.observed_status, vms.observed_at, vms.error, vms.created_by,
  vms.created_at, vms.updated_at`;

/**
 * The VMs that `rows` (SQL selecting at least `SHOWN_VM_COLUMNS` of `vms`) reads, as `ShownVm`
 * rows (and `columns`, SQL over them as `v`), in `order` (SQL over `v`). Their steps are read once
 * per row, for the text and for the test of an error (the fence, OFFSET 0, keeps Postgres from
 * writing the steps' subqueries into both).
 */
function shownVmsText(rows: string, port: string, order: string, columns = ''): string {
  return `SELECT v.id, v.created_by,
      CASE WHEN v.error IS NOT NULL OR strpos(v.steps, '"error":') > 0 THEN v.spec::text END AS spec,
      ${shownVmText('v', port)} AS shown${columns}
    FROM (SELECT r.*, ${shownStepsOfVm('r.id')} AS steps FROM (${rows}) r OFFSET 0) v
    ${order}`;
}

/** Where `shownVmsOf` puts the query of rows and the port parameter into `shownVmsText`. */
const ROWS_MARK = '\u0001rows\u0001';
const PORT_MARK = '\u0001port\u0001';

/**
 * `shownVmsText` over a Kysely query of `vms` rows (scoped by `scopeCondition`), the guests' SSH
 * port a parameter, in `order` (SQL over `v`).
 */
function shownVmsOf(rows: Expression<unknown>, guestSshPort: number, order: string): RawBuilder<ShownVm> {
  const parts = shownVmsText(ROWS_MARK, PORT_MARK, order).split(/(\u0001rows\u0001|\u0001port\u0001)/);
  return sql.join(
    parts.map((part) => (part === ROWS_MARK ? rows : part === PORT_MARK ? sql`${guestSshPort}` : sql.raw(part))),
    sql.raw(''),
  ) as RawBuilder<ShownVm>;
}

/** The VM with this id as the API shows it (`ShownVm`), if `scope` may see it — one statement. */
export async function getShownVm(db: Db, id: string, scope: Scope = ALL_PROJECTS, guestSshPort = 22) {
  const rows = vmsIn(db, scope).where('id', '=', id);
  return (await shownVmsOf(rows, guestSshPort, '').execute(db)).rows[0];
}

/** The order of `listStandaloneVms`: newest first (vms_standalone_* indexes, migration 0009). */
export const STANDALONE_VMS: Keyset = { list: 'vms', at: 'vms.created_at', id: 'vms.id', idType: 'uuid' };

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
 * the cursor's time and id, the limit, the offset (those the variant has), the guests' SSH port.
 * Written once per variant, so its text is the same string at every run (prepared by name,
 * `preparedByName`) and no query builder composes and compiles it per request (a tenth of the API's
 * CPU per `GET /vms` page).
 */
function standaloneVmsText(variant: StandaloneVmsVariant): string {
  const conditions = ['vms.lab_id IS NULL'];
  let parameter = 0;
  const next = () => `$${++parameter}`;
  if (variant.project) conditions.push(`vms.project = ${next()}`);
  if (variant.status) conditions.push(`vms.status = ${next()}`);
  if (variant.cursor) conditions.push(`(vms.created_at, vms.id) < (${next()}::timestamptz, ${next()}::uuid)`);
  const order = 'ORDER BY vms.created_at DESC, vms.id DESC';
  const rows = `SELECT ${SHOWN_VM_COLUMNS} FROM vms WHERE ${conditions.join(' AND ')} ${order}`;
  const limit = next();
  const page = variant.offset
    ? `${rows} LIMIT ${limit} OFFSET ${next()}`
    : variant.bounded
      ? `SELECT * FROM (${rows} LIMIT ${PAGE_BOUND}) bounded LIMIT ${limit}`
      : `${rows} LIMIT ${limit}`;
  const pageKey = `,
      to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS page_key`;
  return shownVmsText(page, next(), 'ORDER BY v.created_at DESC, v.id DESC', pageKey);
}

/** The texts written so far, by variant (a few dozen at most; only the eight bounded ones without an offset are prepared). */
const STANDALONE_VMS_TEXTS = new Map<string, string>();

/**
 * Standalone VMs (not part of a lab), newest first, one page of them, each as the API shows it
 * (`ShownVm`: JSON text Postgres writes, with its steps) — one statement. A page carries some 450
 * steps and 50 specs: parsing them (and each time into a Date) only to print them again was most
 * of the list's cost (bench/lists.bench.ts). The texts are written for the page's rows only, once it
 * is cut (a deprecated offset skips rows unread). A trainee's scope (one lab copy) sees no
 * standalone VM. `guestSshPort`: the port each VM's `access` names.
 */
export async function listStandaloneVms(
  db: Db,
  filter: { status?: string | undefined } & PageRequest,
  scope: Scope = ALL_PROJECTS,
  guestSshPort = 22,
): Promise<Page<ShownVm>> {
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
  parameters.push(guestSshPort);
  const rows = (await db.executeQuery<ShownVm & { page_key: string }>(CompiledQuery.raw(text, parameters))).rows;
  const more = rows.length > filter.limit;
  if (more) rows.length = filter.limit;
  const last = rows.at(-1);
  const nextCursor = more && last ? encodeCursor({ list: STANDALONE_VMS.list, at: last.page_key, id: last.id }) : null;
  return { items: rows.map(withoutPageKey), nextCursor };
}

/** A row without its position column (written out field by field: every row gets one shape at once). */
function withoutPageKey(row: ShownVm & { page_key: string }): ShownVm {
  return { id: row.id, created_by: row.created_by, spec: row.spec, shown: row.shown };
}

/** A lab's VMs in copy and name order (only its one copy for a trainee's scope). */
const vmsOfLab = (db: Db, labId: string, scope: Scope) =>
  vmsIn(db, scope).where('lab_id', '=', labId).orderBy('copy').orderBy('name');

/** A lab's VMs (only its one copy for a trainee's scope). */
export async function listVmsOfLab(db: Db, labId: string, scope: Scope = ALL_PROJECTS) {
  return vmsOfLab(db, labId, scope).execute();
}

/** A lab's VMs as the API shows them (`ShownVm`), in copy and name order — one statement. */
export async function listShownVmsOfLab(db: Db, labId: string, scope: Scope = ALL_PROJECTS, guestSshPort = 22) {
  const rows = vmsIn(db, scope).where('lab_id', '=', labId);
  return (await shownVmsOf(rows, guestSshPort, 'ORDER BY v.copy, v.name').execute(db)).rows;
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
