import type { StepStatus } from '@glassdome/lab';
import { CompiledQuery, type Selectable, sql } from 'kysely';
import { type Db, preparedByName } from '../connection';
import type { JsonValue, StepsTable, VmsTable } from '../schema';

export type StepOwner = { vmId: string; labId?: string | null } | { vmId?: null; labId: string };

/**
 * Records the planned steps of a VM or lab — or of many VMs (a lab's) — as pending, each owner's in
 * `names` order (idempotent: existing steps are kept). One statement whatever the number of owners:
 * the owners and names go as three arrays, not four parameters per row (a 60-VM lab's 540 rows were
 * 2,160 parameters for the client to build and Postgres to parse).
 */
export async function planSteps(db: Db, owners: StepOwner | readonly StepOwner[], names: string[]): Promise<void> {
  const all = Array.isArray(owners) ? owners : [owners as StepOwner];
  if (names.length === 0 || all.length === 0) return;
  await db.executeQuery(
    CompiledQuery.raw(PLAN_STEPS, [
      all.map((owner: StepOwner) => owner.vmId ?? null),
      all.map((owner: StepOwner) => owner.labId ?? null),
      names,
    ]),
  );
}

const PLAN_STEPS = `
  INSERT INTO steps (vm_id, lab_id, name, status)
  SELECT o.vm_id, o.lab_id, s.name, 'pending'
  FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS o(vm_id, lab_id, n),
       unnest($3::text[]) WITH ORDINALITY AS s(name, m)
  ORDER BY o.n, s.m
  ON CONFLICT DO NOTHING`;

function ownerFilter(owner: StepOwner) {
  return owner.vmId
    ? sql<boolean>`vm_id = ${owner.vmId}`
    : sql<boolean>`vm_id IS NULL AND lab_id = ${owner.labId ?? null}`;
}

/** Marks a step running and counts the attempt. */
export async function startStep(db: Db, owner: StepOwner, name: string): Promise<void> {
  await db
    .updateTable('steps')
    .set((eb) => ({
      status: 'running',
      attempts: eb('attempts', '+', 1),
      started_at: sql`now()`,
      finished_at: null,
      error: null,
    }))
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .execute();
}

export async function finishStep(
  db: Db,
  owner: StepOwner,
  name: string,
  outcome: { status: Extract<StepStatus, 'done' | 'failed' | 'skipped'>; error?: string; detail?: JsonValue },
): Promise<void> {
  await db
    .updateTable('steps')
    .set({
      status: outcome.status,
      finished_at: sql`now()`,
      error: outcome.error ?? null,
      ...(outcome.detail === undefined ? {} : { detail: JSON.stringify(outcome.detail) }),
    })
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .execute();
}

/**
 * The steps of a VM's plan that has no step rows yet (`vms.planned_steps`, migration 0013), as the
 * pending rows the installer will write for it (`planVmSteps`): in plan order (`position`), queued
 * when the VM was (the deploy's statement wrote both), no id yet. `vmId` is SQL text naming the VM's
 * id (a parameter or a column of an outer query), never a caller's value. The one place that says
 * what a planned step is: readers show these rows, and the installer inserts them.
 */
export function plannedStepRows(vmId: string): string {
  return `SELECT NULL::bigint AS id, v.id AS vm_id, v.lab_id, p.name, 'pending'::text AS status, 0 AS attempts,
      v.created_at AS queued_at, NULL::timestamptz AS started_at, NULL::timestamptz AS finished_at,
      NULL::text AS error, NULL::jsonb AS detail, p.position
    FROM vms v, jsonb_array_elements_text(v.planned_steps) WITH ORDINALITY AS p(name, position)
    WHERE v.id = ${vmId}`;
}

/**
 * Writes the step rows of the plans a lab's VMs keep on their rows (`vms.planned_steps`, written by a
 * deploy that plans on the VMs, `recordLabDeploy`'s `planOnVms`) for each VM that has no step rows
 * yet, exactly the rows `plannedStepRows` shows until then (queued when the VM was), so an answer
 * reads the same before and after; VMs with rows keep them. One statement for the lab; idempotent.
 * The API runs it once the deploy's intent is sent (off the request's way to BullMQ); an installer
 * that finds a lab VM without step rows writes them itself (`planVmSteps`).
 */
export async function planLabVmSteps(db: Db, labId: string): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(PLAN_LAB_VM_STEPS, [labId]));
}

const PLAN_LAB_VM_STEPS = `
  INSERT INTO steps (vm_id, lab_id, name, status, attempts, queued_at)
  SELECT p.vm_id, p.lab_id, p.name, p.status, p.attempts, p.queued_at
  FROM vms lv CROSS JOIN LATERAL (${plannedStepRows('lv.id')}) p
  WHERE lv.lab_id = $1 AND lv.planned_steps IS NOT NULL AND NOT EXISTS (SELECT 1 FROM steps WHERE vm_id = lv.id)
  ORDER BY lv.copy, lv.name, p.position
  ON CONFLICT DO NOTHING`;

/** A step as `listSteps` reads it; a step only planned so far (`plannedStepRows`) has no id yet. */
export type StepRow = Omit<Selectable<StepsTable>, 'id'> & { id: number | null };

const STEP_COLUMNS = 'id, vm_id, lab_id, name, status, attempts, queued_at, started_at, finished_at, error, detail';

/** A VM's step rows, or its plan as pending steps when it has none yet — one statement. */
const STEPS_OF_VM = `
  SELECT ${STEP_COLUMNS}, NULL::bigint AS position FROM steps WHERE vm_id = $1
  UNION ALL
  SELECT ${STEP_COLUMNS}, position FROM (${plannedStepRows('$1')}) p WHERE NOT EXISTS (SELECT 1 FROM steps WHERE vm_id = $1)
  ORDER BY id, position`;

/**
 * The owner's steps in order. A VM whose plan has no rows yet (a standalone deploy the installer
 * has not taken) shows its plan as pending steps, as it did when the API wrote them as rows.
 */
export async function listSteps(db: Db, owner: StepOwner): Promise<StepRow[]> {
  if (!owner.vmId) return db.selectFrom('steps').selectAll().where(ownerFilter(owner)).orderBy('id').execute();
  const rows = await db.executeQuery<StepRow & { position: number | null }>(
    CompiledQuery.raw(STEPS_OF_VM, [owner.vmId]),
  );
  return rows.rows.map(({ position: _position, ...step }) => step);
}

/**
 * A timestamp as a JS Date puts it in JSON (UTC, milliseconds, truncated as a Date keeps them),
 * written by Postgres: `column` is SQL text naming it.
 */
export function jsonTime(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** `column` selected as `alias`, as `jsonTime` prints it (a nullable column's null stays null). */
export function jsonTimeAs<A extends string, Nullable extends boolean = false>(
  column: string,
  alias: A,
  _nullable?: Nullable,
) {
  return sql<Nullable extends true ? string | null : string>`${sql.raw(jsonTime(column))}`.as(alias);
}

/**
 * A step as the API shows it, as JSON text Postgres writes (the API puts it into its answers as it
 * is): its name, status, attempts and times (as `jsonTime` prints them), once started and finished
 * how long it took between the times shown (`durationMs`), and its error if it has one. The one
 * place a step's presentation is written is `glassdome_shown_step` (migration 0017): a step row
 * keeps its text in `steps.shown`, computed by Postgres whenever the row is written, so a read joins
 * texts instead of building them (a page of 50 VMs, 450 steps: about half of `GET /vms`'s Postgres
 * time, bench/lists.bench.ts); a step only planned (`plannedStepRows`) has no row, and the function
 * writes its text as it is read. Lists and details of VMs and labs all read these.
 */
const SHOWN_PLANNED_STEP =
  'glassdome_shown_step(s.name, s.status, s.attempts, s.queued_at, s.started_at, s.finished_at, s.error)';

/** The texts `shown` of steps `s` in `order` as one JSON array (text; null when there are none). */
const shownStepArray = (shown: string, order: string) => `'[' || string_agg(${shown}, ',' ORDER BY ${order}) || ']'`;

/**
 * The steps of the VM `vmId` (SQL text naming its id: a column of an outer query or a parameter) as
 * the API shows them, in the order `listSteps` reads them — its step rows, or its plan when it has
 * none yet (coalesce reads the plan only then) — one JSON array text: a read of VMs carries their
 * steps in its own statement.
 */
export function shownStepsOfVm(vmId: string): string {
  return `coalesce(
    (SELECT ${shownStepArray('s.shown', 's.id')} FROM steps s WHERE s.vm_id = ${vmId}),
    (SELECT ${shownStepArray(SHOWN_PLANNED_STEP, 's.position')} FROM (${plannedStepRows(vmId)}) s),
    '[]')`;
}

const SHOWN_STEPS_OF_LAB = `SELECT coalesce((SELECT ${shownStepArray('s.shown', 's.id')} FROM steps s
  WHERE s.vm_id IS NULL AND s.lab_id = $1), '[]') AS steps`;

/** A lab's own steps (its tasks) as the API shows them (`steps.shown`), one JSON array text. */
export async function listShownStepsOfLab(db: Db, labId: string): Promise<string> {
  const result = await db.executeQuery<{ steps: string }>(CompiledQuery.raw(SHOWN_STEPS_OF_LAB, [labId]));
  return result.rows[0]!.steps;
}

/**
 * The installer takes a VM's deploy: writes the step rows of its plan (`plannedStepRows`) if it has
 * none yet, and returns its steps as recorded — one statement, the read `runSteps` makes anyway. A
 * VM with step rows (planned before, a lab VM, a job retried) keeps them. The inserted rows are not
 * visible to the statement's own read of `steps`, so they are read back from the insert.
 */
export async function planVmSteps(db: Db, vmId: string): Promise<RecordedStep[]> {
  const result = await db.executeQuery<RecordedStep>(CompiledQuery.raw(PLAN_VM_STEPS, [vmId]));
  return result.rows;
}

const PLAN_VM_STEPS = `
  WITH planned AS (
    INSERT INTO steps (vm_id, lab_id, name, status, attempts, queued_at)
    SELECT p.vm_id, p.lab_id, p.name, p.status, p.attempts, p.queued_at
    FROM (${plannedStepRows('$1')}) p
    WHERE NOT EXISTS (SELECT 1 FROM steps WHERE vm_id = $1)
    ORDER BY p.position
    ON CONFLICT DO NOTHING
    RETURNING id, name, status, attempts, error
  )
  SELECT name, status, attempts, error FROM (
    SELECT id, name, status, attempts, error FROM steps WHERE vm_id = $1
    UNION ALL
    SELECT id, name, status, attempts, error FROM planned
  ) recorded
  ORDER BY id`;

/** A VM's step as its deployment resumes from it. */
export interface RecordedStep {
  name: string;
  status: string;
  attempts: number;
  error: string | null;
}

/**
 * Steps of many VMs at once (a lab's), keyed by VM id. Lab VMs have step rows from the start
 * (lab-run plans them with the lab), so no plan is read here (`listSteps` reads a standalone VM's).
 */
export async function listStepsOfVms(db: Db, vmIds: string[]) {
  if (vmIds.length === 0) return new Map<string, Awaited<ReturnType<typeof listSteps>>>();
  const rows = await db.selectFrom('steps').selectAll().where('vm_id', 'in', vmIds).orderBy('id').execute();
  const byVm = new Map<string, typeof rows>();
  for (const row of rows) byVm.set(row.vm_id!, [...(byVm.get(row.vm_id!) ?? []), row]);
  return byVm;
}

/**
 * Puts the unfinished steps of these VMs (failed, skipped or left running) back to pending. A step
 * keeps its last error until its next attempt starts: that attempt acts on why the last one failed
 * (a guest agent that never answered gets its VM rebooted first, `wait-agent`), and a reader sees it.
 */
export async function resetUnfinishedVmSteps(db: Db, vmIds: string[]): Promise<void> {
  if (vmIds.length === 0) return;
  await db
    .updateTable('steps')
    .set({ status: 'pending', started_at: null, finished_at: null })
    .where('vm_id', 'in', vmIds)
    .where('status', 'in', ['failed', 'skipped', 'running'])
    .execute();
}

/** A step's recorded result (e.g. a lab network task's bridge and tag), if it has one. */
export async function getStepDetail(db: Db, owner: StepOwner, name: string): Promise<JsonValue | undefined> {
  const row = await db
    .selectFrom('steps')
    .select('detail')
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .executeTakeFirst();
  return row?.detail ?? undefined;
}

/** Names of the owner's steps in one status. */
export async function stepNamesIn(db: Db, owner: StepOwner, status: StepStatus): Promise<string[]> {
  const rows = await db
    .selectFrom('steps')
    .select('name')
    .where(ownerFilter(owner))
    .where('status', '=', status)
    .execute();
  return rows.map((row) => row.name);
}

/** Puts every step of the owner back to pending (a VM deployed again from the start). */
export async function resetAllSteps(db: Db, owner: StepOwner): Promise<void> {
  await db
    .updateTable('steps')
    .set({ status: 'pending', error: null, started_at: null, finished_at: null })
    .where(ownerFilter(owner))
    .execute();
}

/** Sets the status of the owner's named steps (e.g. lab tasks to redo marked failed). */
export async function setStepsStatus(db: Db, owner: StepOwner, names: string[], status: StepStatus): Promise<void> {
  if (names.length === 0) return;
  await db.updateTable('steps').set({ status }).where(ownerFilter(owner)).where('name', 'in', names).execute();
}

/** Steps running (and started) on a platform: those of its VMs and of its labs' tasks. */
export async function listRunningStepsOfPlatform(db: Db, platformId: string) {
  return db
    .selectFrom('steps')
    .leftJoin('vms', 'vms.id', 'steps.vm_id')
    .leftJoin('labs', 'labs.id', 'steps.lab_id')
    .select(['steps.vm_id', 'steps.lab_id', 'steps.name', 'steps.started_at'])
    .where('steps.status', '=', 'running')
    .where('steps.started_at', 'is not', null)
    .where((eb) => eb.or([eb('vms.platform_id', '=', platformId), eb('labs.platform_id', '=', platformId)]))
    .execute();
}

/** Replaces a step's recorded result (e.g. the firewall digest after a repair re-applied it). */
export async function setStepDetail(db: Db, owner: StepOwner, name: string, detail: JsonValue): Promise<void> {
  await db
    .updateTable('steps')
    .set({ detail: JSON.stringify(detail) })
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .execute();
}

/** The event a step's progress appends to the timeline along with it. */
export interface StepEvent {
  kind: string;
  message: string;
}

/** How far a VM step got, as its event says. */
export type VmStepOutcome = 'started' | 'done' | 'failed';

const vmStepEventKind = (outcome: VmStepOutcome) => `vm.step.${outcome}`;
/** What follows the step's name in its event's message (an error, after it). */
const vmStepEventAfterName = (outcome: VmStepOutcome) => ` ${outcome}`;

/**
 * The event of a VM step's start, end or failure: the one maker of its kind and text, for the
 * pipeline's records (`recordVmSteps`) and the starts `startLabTasksIfRunning` records itself.
 */
export function vmStepEvent(name: string, outcome: VmStepOutcome, error?: string): StepEvent {
  return {
    kind: vmStepEventKind(outcome),
    message: `${name}${vmStepEventAfterName(outcome)}${error === undefined ? '' : `: ${error}`}`,
  };
}

/** A VM status change applied in a step's statement: from one of `from` to `to` (a lab-run transition). */
export interface VmStatusChange {
  from: readonly string[];
  to: string;
}

/**
 * What one statement records of a VM's deployment: the step that ended (with its outcome), the step
 * that starts next, a status change of the VM that goes with them and their timeline events. `moved`
 * events are appended only when the status change took effect.
 */
export interface VmStepRecord {
  end?: {
    name: string;
    outcome: { status: Extract<StepStatus, 'done' | 'failed'>; error?: string; detail?: JsonValue };
    event: StepEvent;
    /** What a step that is done learned of its VM, written with its end (`VmStepWrites`). */
    writes?: VmStepWrites;
    /**
     * The step ran without its start recorded first (a quiet step, see the installer's `Step.quiet`):
     * how long it ran, in milliseconds, and its started event. Its start (the attempt counted,
     * `started_at` that long before its end, the event) is recorded with its end.
     */
    quietStart?: { ranMs: number; event: StepEvent };
  };
  /**
   * Steps that ended before `end`'s step ran, in order, recorded done with it instead of each on its
   * own: those before a quiet one (see the installer's `Step.endWaits`), each `endedMsAgo` before
   * this statement (its `finished_at`), a quiet one with its start as `end.quietStart` says. What they
   * learned of their VM (`writes`) is written with `end`'s (a later step's win).
   */
  earlier?: {
    name: string;
    detail?: JsonValue;
    event: StepEvent;
    writes?: VmStepWrites;
    endedMsAgo: number;
    quietStart?: { ranMs: number; event: StepEvent };
  }[];
  start?: { name: string; event: StepEvent };
  move?: VmStatusChange;
  moved?: (StepEvent & { data?: JsonValue })[];
  /** The lab task these steps make up, recorded done (its detail kept) as `finishLabTaskStep` does. */
  labTaskDone?: string;
  /** With `labTaskDone`: the tasks asked about, as `finishLabTaskStep`'s `asked` (all when absent). */
  labTasksAsked?: readonly string[];
}

/**
 * What a step learned of its VM, written in the statement that records the step done instead of one
 * of its own: the VMID it reserved, the management address the guest agent reported (the VM's pin is
 * forgotten with it, as `setVmIpForgettingHostKey` does, unless `pin` replaces it in the same write)
 * and the host key fingerprint read through the agent (pinned as `pinVmHostKey` does). A crash before
 * that statement leaves the step not done, so its repeat learns them again.
 */
export interface VmStepWrites {
  vmid?: number;
  ip?: string;
  pin?: { fingerprint: string; keyType: string };
}

/** What `recordVmSteps` did: whether its status change took effect, and the lab's tasks done now. */
export interface VmStepsRecorded {
  moved: boolean;
  /** With `labTaskDone`: the names of the lab's tasks done now, that one included (see `finishLabTaskStep`). */
  labTasksDone?: string[];
}

/**
 * Of the lab's tasks done (`done`, SQL text naming a text[]), those the caller asked about (`asked`,
 * SQL text naming a text[] parameter; every one when it is null), in the same order.
 */
const doneOf = (done: string, asked: string) =>
  `CASE WHEN ${asked}::text[] IS NULL THEN ${done} ELSE ARRAY(SELECT n FROM unnest(${done}) WITH ORDINALITY AS d(n, i) WHERE n = ANY(${asked}::text[]) ORDER BY i) END`;

/**
 * One text for every combination (an absent part matches no row), compiled once: a step's end and
 * the next step's start are one round trip (with, before a quiet step, the end of the step before it:
 * `earlier`), and the VM's status goes with the step that causes it.
 * What the ended step learned of its VM (`VmStepWrites`) goes in the same update of the VM's row as
 * a status change (`moved`), or in one of its own when there is none or it did not take effect
 * (`placed`, which waits for `moved`'s answer: a statement updates a row once). A lab task's end (`lab_done`, migration 0014) takes the lab's row lock before the VM's row is
 * touched (the VM's update waits for it through its condition), the order in which a lab's cancel
 * or failure takes them too.
 */
const RECORD_VM_STEPS = `
  WITH lab_done AS (
    SELECT glassdome_finish_lab_task($9::uuid, $14::text, NULL) AS done WHERE $14::text IS NOT NULL
  ), ended AS (
    UPDATE steps SET status = $3, finished_at = now(), error = $4, detail = coalesce($5::jsonb, detail),
      attempts = attempts + CASE WHEN $19::float8 IS NULL THEN 0 ELSE 1 END,
      started_at = CASE WHEN $19::float8 IS NULL THEN started_at ELSE now() - make_interval(secs => $19::float8 / 1000) END
    WHERE vm_id = $1 AND name = $2
  ), earlier AS (
    UPDATE steps SET status = 'done', finished_at = now() - make_interval(secs => e.ago / 1000), error = NULL,
      detail = coalesce(e.detail::jsonb, steps.detail),
      attempts = steps.attempts + CASE WHEN e.ran IS NULL THEN 0 ELSE 1 END,
      started_at = CASE WHEN e.ran IS NULL THEN steps.started_at
        ELSE now() - make_interval(secs => (e.ago + e.ran) / 1000) END
    FROM unnest($20::text[], $21::text[], $22::float8[], $23::float8[]) AS e(name, detail, ago, ran)
    WHERE steps.vm_id = $1 AND steps.name = e.name
  ), started AS (
    UPDATE steps SET status = 'running', attempts = attempts + 1, started_at = now(), finished_at = NULL, error = NULL
    WHERE vm_id = $1 AND name = $6
  ), moved AS (
    UPDATE vms SET status = $7, vmid = coalesce($15::int, vmid), ip = coalesce($16::text, ip), updated_at = now()
    WHERE id = $1 AND $7::text IS NOT NULL AND status = ANY($8::text[]) AND (SELECT count(*) FROM lab_done) >= 0
    RETURNING id
  ), placed AS (
    UPDATE vms SET vmid = coalesce($15::int, vmid), ip = coalesce($16::text, ip), updated_at = now()
    WHERE id = $1 AND ($15::int IS NOT NULL OR $16::text IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM moved)
      AND (SELECT count(*) FROM lab_done) >= 0
  ), forgotten AS (
    DELETE FROM vm_host_keys WHERE vm_id = $1 AND $16::text IS NOT NULL AND $17::text IS NULL
  ), pinned AS (
    INSERT INTO vm_host_keys (vm_id, fingerprint, key_type)
    SELECT $1, $17::text, $18::text WHERE $17::text IS NOT NULL
    ON CONFLICT (vm_id) DO UPDATE SET fingerprint = excluded.fingerprint, key_type = excluded.key_type, pinned_at = now()
  ), appended AS (
    INSERT INTO events (lab_id, vm_id, kind, message, data)
    SELECT $9::uuid, $1::uuid, e.kind, e.message, e.data::jsonb
    FROM unnest($10::text[], $11::text[], $12::text[], $13::boolean[]) WITH ORDINALITY AS e(kind, message, data, if_moved, n)
    WHERE NOT e.if_moved OR EXISTS (SELECT 1 FROM moved)
    ORDER BY e.n
  )
  SELECT EXISTS (SELECT 1 FROM moved) AS moved, (SELECT ${doneOf('done', '$24')} FROM lab_done) AS done`;

// Every step of a lab VM starts and ends with this text (6 times per VM of the lab bench): each
// connection has Postgres parse and plan it once, then only bind and run it (the backend's CPU per
// record about halved, measured alone).
preparedByName(RECORD_VM_STEPS);

/**
 * Records `change` for the VM in one statement; says whether its status change took effect (false
 * when there was none to make) and, when it ended a lab task, which of the lab's tasks are done now.
 */
export async function recordVmSteps(
  db: Db,
  owner: { vmId: string; labId?: string | null },
  change: VmStepRecord,
): Promise<VmStepsRecorded> {
  const earlier = change.earlier ?? [];
  const events = [
    ...earlier.flatMap((step) => [
      ...(step.quietStart ? [{ ...step.quietStart.event, ifMoved: false }] : []),
      { ...step.event, ifMoved: false },
    ]),
    ...(change.end?.quietStart ? [{ ...change.end.quietStart.event, ifMoved: false }] : []),
    ...(change.end ? [{ ...change.end.event, ifMoved: false }] : []),
    ...(change.start ? [{ ...change.start.event, ifMoved: false }] : []),
    ...(change.move ? (change.moved ?? []).map((event) => ({ ...event, ifMoved: true })) : []),
  ];
  const detail = change.end?.outcome.detail;
  const learned = [...earlier.map((step) => step.writes), change.end?.writes].filter((w) => w !== undefined);
  const writes = learned.length > 1 ? Object.assign({}, ...learned) : learned[0];
  const result = await db.executeQuery<{ moved: boolean; done: string[] | null }>(
    CompiledQuery.raw(RECORD_VM_STEPS, [
      owner.vmId,
      change.end?.name ?? null,
      change.end?.outcome.status ?? null,
      change.end?.outcome.error ?? null,
      detail === undefined ? null : JSON.stringify(detail),
      change.start?.name ?? null,
      change.move?.to ?? null,
      change.move ? [...change.move.from] : [],
      owner.labId ?? null,
      events.map((event) => event.kind),
      events.map((event) => event.message),
      events.map((event) => ('data' in event && event.data !== undefined ? JSON.stringify(event.data) : null)),
      events.map((event) => event.ifMoved),
      change.labTaskDone ?? null,
      writes?.vmid ?? null,
      writes?.ip ?? null,
      writes?.pin?.fingerprint ?? null,
      writes?.pin?.keyType ?? null,
      change.end?.quietStart?.ranMs ?? null,
      earlier.map((step) => step.name),
      earlier.map((step) => (step.detail === undefined ? null : JSON.stringify(step.detail))),
      earlier.map((step) => step.endedMsAgo),
      earlier.map((step) => step.quietStart?.ranMs ?? null),
      change.labTasksAsked ? [...change.labTasksAsked] : null,
    ]),
  );
  const row = result.rows[0];
  return { moved: row?.moved ?? false, ...(row?.done ? { labTasksDone: row.done } : {}) };
}

/**
 * Records a lab's own step done with its detail in one statement, planned and started (its attempt
 * counted) if it was not: what `planSteps`, `startStep` and `finishStep` would record one after the
 * other for work done inside a transaction (the lab's placement).
 */
export async function recordLabStepDone(db: Db, labId: string, name: string, detail: JsonValue): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(RECORD_LAB_STEP_DONE, [labId, name, JSON.stringify(detail)]));
}

const RECORD_LAB_STEP_DONE = `
  INSERT INTO steps (vm_id, lab_id, name, status, attempts, started_at, finished_at, detail)
  VALUES (NULL, $1, $2, 'done', 1, now(), now(), $3::jsonb)
  ON CONFLICT (lab_id, name) WHERE vm_id IS NULL DO UPDATE
    SET status = 'done', attempts = steps.attempts + 1, started_at = now(), finished_at = now(), error = NULL,
      detail = excluded.detail`;

/** A lab's state as its tasks start from it. */
export interface LabTaskStartRow {
  id: string;
  name: string;
  status: string;
  on_failure: string;
  request_id: string | null;
  error: string | null;
  run: number;
}

/**
 * A lab VM with its steps so far and the host key fingerprint pinned for it (`pinned_host_key`, null
 * without a pin): what its tasks start from.
 */
export type LabVmWithSteps = Selectable<VmsTable> & {
  steps: RecordedStep[];
  pinned_host_key: string | null;
  /** The VM's step the statement recorded started (`LabVmStart.startFirstOf`), or null. */
  started_step: string | null;
};

/** A lab VM a starting task reads, by copy and name. */
export interface LabVmStart {
  copy: number;
  name: string;
  /**
   * The task's steps in order: the first of them not done is recorded started by the same statement
   * (its attempt counted, its started event appended, `vmStepEvent`, as `recordVmSteps` records a
   * start) when the VM is in the status the call names, the status in which the start changes
   * nothing else of the VM.
   */
  startFirstOf?: readonly string[];
}

/**
 * Lab tasks begin: reads the lab's state and, unless the lab is in one of `stopped`, records each
 * task's step planned (if it was not) and running with its attempt counted; reads the lab's VMs in
 * `vms` (by copy and name; VMs not found are left out) with their steps, as they were before this
 * statement, and records the first step of those that say so started (`LabVmStart.startFirstOf`)
 * when the VM is in `startStatus` (none without it): a task's first step costs no statement of its
 * own. One statement for as many tasks of the lab as start at once. The lab's state is undefined when
 * the lab is gone.
 */
export async function startLabTasksIfRunning(
  db: Db,
  labId: string,
  names: readonly string[],
  stopped: readonly string[],
  vms: readonly LabVmStart[] = [],
  startStatus?: string,
): Promise<{ lab: LabTaskStartRow | undefined; vms: LabVmWithSteps[] }> {
  // Each VM's step names by its place in `vms` (from 1), in order.
  const places = vms.flatMap((vm, i) => (startStatus ? (vm.startFirstOf ?? []).map(() => i + 1) : []));
  const stepNames = vms.flatMap((vm) => (startStatus ? (vm.startFirstOf ?? []) : []));
  const result = await db.executeQuery<LabVmWithSteps & { lab_state: LabTaskStartRow }>(
    // Sorted and once each: an upsert may touch a row only once, and rows are locked in one order.
    CompiledQuery.raw(START_LAB_TASKS, [
      labId,
      [...new Set(names)].sort(),
      [...stopped],
      vms.map((vm) => vm.copy),
      vms.map((vm) => vm.name),
      places,
      stepNames,
      startStatus ?? null,
      vmStepEventKind('started'),
      vmStepEventAfterName('started'),
    ]),
  );
  const [first] = result.rows;
  return {
    lab: first?.lab_state,
    // Without a VM found, the lab's one row has none.
    vms: result.rows.filter((row) => row.id !== null).map(({ lab_state, ...vm }) => vm),
  };
}

const START_LAB_TASKS = `
  WITH lab AS (
    SELECT id, name, status, on_failure, request_id, error, run FROM labs WHERE id = $1
  ), started AS (
    INSERT INTO steps (vm_id, lab_id, name, status, attempts, started_at)
    SELECT NULL, lab.id, task.name, 'running', 1, now()
    FROM lab, unnest($2::text[]) WITH ORDINALITY AS task(name, n)
    WHERE lab.status <> ALL($3::text[])
    ORDER BY task.n
    ON CONFLICT (lab_id, name) WHERE vm_id IS NULL DO UPDATE
      SET status = 'running', attempts = steps.attempts + 1, started_at = now(), finished_at = NULL, error = NULL
  ), first_steps AS (
    SELECT DISTINCT ON (v.id) s.id, v.id AS vm_id, s.name
    FROM lab
    JOIN unnest($4::int[], $5::text[]) WITH ORDINALITY AS w(copy, name, place) ON true
    JOIN vms v ON v.lab_id = lab.id AND v.copy = w.copy AND v.name = w.name
    JOIN unnest($6::int[], $7::text[]) WITH ORDINALITY AS t(place, step, n) ON t.place = w.place
    JOIN steps s ON s.vm_id = v.id AND s.name = t.step
    WHERE lab.status <> ALL($3::text[]) AND v.status = $8::text AND s.status <> 'done'
    ORDER BY v.id, t.n
  ), first_started AS (
    UPDATE steps SET status = 'running', attempts = steps.attempts + 1, started_at = now(), finished_at = NULL, error = NULL
    FROM first_steps f WHERE steps.id = f.id
  ), first_events AS (
    INSERT INTO events (lab_id, vm_id, kind, message)
    SELECT $1, f.vm_id, $9::text, f.name || $10::text FROM first_steps f ORDER BY f.vm_id
  )
  SELECT row_to_json(lab) AS lab_state, vm.*
  FROM lab LEFT JOIN LATERAL (
    SELECT vms.*,
      (SELECT f.name FROM first_steps f WHERE f.vm_id = vms.id) AS started_step,
      (SELECT coalesce(json_agg(json_build_object('name', s.name, 'status', s.status, 'attempts', s.attempts, 'error', s.error) ORDER BY s.id), '[]'::json)
        FROM steps s WHERE s.vm_id = vms.id) AS steps,
      (SELECT k.fingerprint FROM vm_host_keys k WHERE k.vm_id = vms.id) AS pinned_host_key
    FROM vms
    WHERE vms.lab_id = lab.id AND (vms.copy, vms.name) IN (SELECT * FROM unnest($4::int[], $5::text[]))
  ) AS vm ON true`;
// Every lab task starts with this text (when its lab's tasks start one at a time): prepared once per connection.
preparedByName(START_LAB_TASKS);

/**
 * Records a lab task's step done and returns the names of the lab's tasks done now (this one
 * included), in one round trip: of two tasks finishing at once, at least one sees both done and adds
 * their common dependent. The finishers of a lab take turns on its row lock and read after it was
 * granted (`glassdome_finish_lab_task`, migration 0014); a plain statement's read would share the
 * snapshot taken before its update waited, so both could see the other unfinished and the dependent
 * would never be added (the lab would then settle without it). With `asked`, only those of the done
 * tasks come back (what decides the tasks this one makes ready: its dependents and their
 * dependencies): each finish of a 60-VM lab's 120 tasks carried the names of all done so far.
 */
export async function finishLabTaskStep(
  db: Db,
  labId: string,
  name: string,
  detail: JsonValue | undefined,
  asked?: readonly string[],
): Promise<string[]> {
  const result = await db.executeQuery<{ done: string[] }>(
    CompiledQuery.raw(FINISH_LAB_TASK, [
      labId,
      name,
      detail === undefined ? null : JSON.stringify(detail),
      asked ? [...asked] : null,
    ]),
  );
  return result.rows[0]?.done ?? [];
}

const FINISH_LAB_TASK = `SELECT ${doneOf('d.done', '$4')} AS done
  FROM (SELECT glassdome_finish_lab_task($1::uuid, $2::text, $3::jsonb) AS done) d`;
