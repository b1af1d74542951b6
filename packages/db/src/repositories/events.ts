import { sql } from 'kysely';
import type { Db } from '../connection';
import { type Keyset, type PageRequest, pageOf, pageQuery } from '../paging';
import type { JsonValue } from '../schema';
import { ALL_PROJECTS, type Scope, scopeCondition } from '../scope';
import { jsonTimeAs } from './steps';

export interface EventInput {
  labId?: string | null;
  vmId?: string | null;
  /** Dotted kind, e.g. `vm.step.started`, `permission.granted`, `alert.opened`. */
  kind: string;
  message: string;
  data?: JsonValue;
  /**
   * The project an event about no lab or VM belongs to (an event about a lab or VM takes its
   * project, whatever this says). @defaultValue 'default'
   */
  project?: string;
  /**
   * Shown only to admins and the key that created the lab or VM: a provisioning command's text or a
   * guest's output. @defaultValue false
   */
  private?: boolean;
}

function eventRow(event: EventInput) {
  return {
    lab_id: event.labId ?? null,
    vm_id: event.vmId ?? null,
    kind: event.kind,
    message: event.message,
    data: event.data === undefined ? null : JSON.stringify(event.data),
    ...(event.project === undefined ? {} : { project: event.project }),
    ...(event.private ? { private: true } : {}),
  };
}

/** Appends to the timeline. Events are never updated or deleted while their lab or VM exists. */
export async function appendEvent(db: Db, event: EventInput): Promise<void> {
  await db.insertInto('events').values(eventRow(event)).execute();
}

/**
 * Events of a lab (with its VMs) or a VM, after `afterId`, oldest first, as `scope` may see them.
 * Private events are left out unless `includePrivate`.
 */
export async function listEvents(
  db: Db,
  filter: {
    labId?: string;
    vmId?: string;
    afterId?: number;
    kind?: string;
    limit?: number;
    includePrivate?: boolean;
  },
  scope: Scope = ALL_PROJECTS,
) {
  let query = db
    .selectFrom('events')
    .selectAll()
    .where(scopeCondition('events', scope))
    .orderBy('id')
    .limit(filter.limit ?? 500);
  if (!filter.includePrivate) query = query.where('private', '=', false);
  if (filter.labId) query = query.where('lab_id', '=', filter.labId);
  if (filter.vmId) query = query.where('vm_id', '=', filter.vmId);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
  return query.execute();
}

/** The order of `listLabEventPage`: a lab's timeline, oldest first by id (the events_lab index). */
export const LAB_EVENTS: Keyset = { list: 'lab-events', id: 'events.id', idType: 'bigint', ascending: true };

/**
 * One page of a lab's events, oldest first, as `scope` may see them; private ones only if asked.
 * Every column, the time as JSON prints it (`jsonTime`) rather than parsed into a Date only to be
 * printed again.
 */
export async function listLabEventPage(
  db: Db,
  filter: { labId: string; includePrivate?: boolean } & PageRequest,
  scope: Scope = ALL_PROJECTS,
) {
  let query = db
    .selectFrom('events')
    .select(['id', jsonTimeAs('events.at', 'at'), 'lab_id', 'vm_id', 'kind', 'message', 'data', 'project', 'private'])
    .where('lab_id', '=', filter.labId)
    .where(scopeCondition('events', scope));
  if (!filter.includePrivate) query = query.where('private', '=', false);
  return pageOf(await pageQuery(query, LAB_EVENTS, filter).execute(), LAB_EVENTS, filter);
}

/** Appends many events in one statement (callers keep batches to a few hundred rows). */
export async function appendEvents(db: Db, events: readonly EventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db.insertInto('events').values(events.map(eventRow)).execute();
}

/**
 * Events of these kinds at or after `since` whose `data` holds every given top-level text value,
 * newest first. Narrowing by `vmId` or `labId` lets the (vm_id, id) and (lab_id, id) indexes serve it.
 */
export async function listEventsByData(
  db: Db,
  filter: {
    kinds: readonly string[];
    data: Readonly<Record<string, string>>;
    since: Date;
    vmId?: string | undefined;
    labId?: string | undefined;
    limit: number;
  },
) {
  let query = db
    .selectFrom('events')
    .select(['id', 'kind', 'at'])
    .where('kind', 'in', [...filter.kinds])
    .where('at', '>=', filter.since);
  for (const [key, value] of Object.entries(filter.data)) query = query.where(sql<string>`data->>${key}`, '=', value);
  if (filter.vmId) query = query.where('vm_id', '=', filter.vmId);
  if (filter.labId) query = query.where('lab_id', '=', filter.labId);
  return query.orderBy('id', 'desc').limit(filter.limit).execute();
}

/** Every event after `afterId`, oldest first: what the change feed reads once per notification. */
export async function listEventsAfter(db: Db, afterId: number, limit: number) {
  return db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
}

/** The newest event id (0 when there is none): where a change feed starts. */
export async function lastEventId(db: Db): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/**
 * Deletes events older than `before`, at most `batch` at a time (so a first prune of a large table
 * holds no long lock); returns how many went.
 */
export async function pruneEvents(db: Db, before: Date, batch = 5_000): Promise<number> {
  const result = await db
    .deleteFrom('events')
    .where('id', 'in', (eb) => eb.selectFrom('events').select('id').where('at', '<', before).limit(batch))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
