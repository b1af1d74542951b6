/**
 * Alerts in Postgres, keyed by their deduplication key. At most one alert per key is live (open or
 * acknowledged; a partial unique index enforces it), so a condition seen on every scan keeps one
 * alert whose `last_seen_at` moves, and one that clears is resolved and may later open a new one.
 */
import {
  appendEvents as appendEventRows,
  type Db,
  type JsonValue,
  resolveLiveAlertsExcept,
  upsertLiveAlerts,
} from '@glassdome/db';
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
    const rows = await upsertLiveAlerts(db, batch);
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
  const rows = await resolveLiveAlertsExcept(db, `${platformId}:`, stillActive);
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
  for (const batch of chunks(events)) await appendEventRows(db, batch);
}
