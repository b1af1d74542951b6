/**
 * Alerts in Postgres, keyed by their deduplication key. At most one alert per key is live (open or
 * acknowledged; a partial unique index enforces it), so a condition seen on every scan keeps one
 * alert whose `last_seen_at` moves, and one that clears is resolved and may later open a new one.
 */
import type { Db, JsonValue } from '@glassdome/db';
import { sql } from 'kysely';
import type { Finding } from './findings';

export interface LiveAlert {
  id: string;
  dedupKey: string;
  firstSeenAt: Date;
  /** Made by this call (the condition is new), rather than seen again. */
  opened: boolean;
}

export interface ResolvedAlert {
  id: string;
  dedupKey: string;
  subject: string;
}

/** Rows per statement, so a scan of a very large cluster never builds one huge query. */
const BATCH = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += BATCH) out.push(items.slice(start, start + BATCH));
  return out;
}

/** Opens an alert for every new finding and refreshes the live alert of every known one. */
export async function upsertAlerts(db: Db, findings: readonly Finding[]): Promise<Map<string, LiveAlert>> {
  const unique = [...new Map(findings.map((finding) => [finding.dedupKey, finding])).values()];
  const live = new Map<string, LiveAlert>();
  for (const batch of chunks(unique)) {
    const rows = await db
      .insertInto('alerts')
      .values(
        batch.map((finding) => ({
          dedup_key: finding.dedupKey,
          kind: finding.kind,
          severity: finding.severity,
          subject: finding.subject,
          message: finding.message,
          state: 'open',
          data: JSON.stringify(finding.data),
        })),
      )
      .onConflict((oc) =>
        oc
          .column('dedup_key')
          .where('state', '<>', 'resolved')
          .doUpdateSet((eb) => ({
            last_seen_at: sql`now()`,
            severity: eb.ref('excluded.severity'),
            message: eb.ref('excluded.message'),
            data: eb.ref('excluded.data'),
          })),
      )
      // xmax is 0 only on a row this statement inserted (an update sets it).
      .returning(['id', 'dedup_key', 'first_seen_at', sql<boolean>`(xmax = 0)`.as('opened')])
      .execute();
    for (const row of rows) {
      live.set(row.dedup_key, {
        id: row.id,
        dedupKey: row.dedup_key,
        firstSeenAt: row.first_seen_at,
        opened: row.opened,
      });
    }
  }
  return live;
}

/** Resolves every live alert of the platform whose key is not in `stillActive`. */
export async function resolveClearedAlerts(
  db: Db,
  platformId: string,
  stillActive: readonly string[],
): Promise<ResolvedAlert[]> {
  const prefix = `${platformId.replace(/[%_\\]/g, '\\$&')}:%`;
  const rows = await db
    .updateTable('alerts')
    .set({ state: 'resolved', resolved_at: sql`now()` })
    .where('state', '<>', 'resolved')
    .where('dedup_key', 'like', prefix)
    .where(sql<boolean>`not (dedup_key = any(${[...stillActive]}::text[]))`)
    .returning(['id', 'dedup_key', 'subject'])
    .execute();
  return rows.map((row) => ({ id: row.id, dedupKey: row.dedup_key, subject: row.subject }));
}

export interface AlertEvent {
  kind: string;
  message: string;
  vmId?: string | null;
  labId?: string | null;
  data: JsonValue;
}

/** Appends many timeline events in one statement per batch. */
export async function appendEvents(db: Db, events: readonly AlertEvent[]): Promise<void> {
  for (const batch of chunks(events)) {
    await db
      .insertInto('events')
      .values(
        batch.map((event) => ({
          kind: event.kind,
          message: event.message,
          vm_id: event.vmId ?? null,
          lab_id: event.labId ?? null,
          data: JSON.stringify(event.data),
        })),
      )
      .execute();
  }
}
