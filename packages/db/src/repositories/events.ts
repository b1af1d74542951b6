import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

export interface EventInput {
  labId?: string | null;
  vmId?: string | null;
  /** Dotted kind, e.g. `vm.step.started`, `permission.granted`, `alert.opened`. */
  kind: string;
  message: string;
  data?: JsonValue;
}

function eventRow(event: EventInput) {
  return {
    lab_id: event.labId ?? null,
    vm_id: event.vmId ?? null,
    kind: event.kind,
    message: event.message,
    data: event.data === undefined ? null : JSON.stringify(event.data),
  };
}

/** Appends to the timeline. Events are never updated or deleted while their lab or VM exists. */
export async function appendEvent(db: Db, event: EventInput): Promise<void> {
  await db.insertInto('events').values(eventRow(event)).execute();
}

/** Events of a lab (with its VMs) or a VM, after `afterId`, oldest first. */
export async function listEvents(
  db: Db,
  filter: { labId?: string; vmId?: string; afterId?: number; kind?: string; limit?: number },
) {
  let query = db
    .selectFrom('events')
    .selectAll()
    .orderBy('id')
    .limit(filter.limit ?? 500);
  if (filter.labId) query = query.where('lab_id', '=', filter.labId);
  if (filter.vmId) query = query.where('vm_id', '=', filter.vmId);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
  return query.execute();
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
