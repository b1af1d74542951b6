/**
 * The VM lists clients poll (`GET /nodes/{node}/qemu`, `GET /cluster/resources`) at 10,000 VMs:
 * each VM's row is kept with its JSON text while every input of the row — its config's content,
 * status, pid, uptime second, node, pool, stats — stays what it was, so a poll rebuilds only the
 * rows that changed and the HTTP front joins the kept texts instead of serialising 10,000 objects.
 * Rows are frozen: the text stays exactly `JSON.stringify(row)`.
 */

/** Keys (compared with ===) that decide a row; when one differs the row is built again. */
type RowKey = readonly unknown[];

interface KeptRow {
  key: RowKey;
  row: Readonly<Record<string, unknown>>;
  json: string;
  /** The row's uptime, and its text around it: a new second costs a concatenation, not a rebuild. */
  uptime: number;
  head?: string;
  tail?: string;
}

/** Rows of one list, per VM (or any object that owns a row). */
export class RowCache {
  readonly #rows = new WeakMap<object, KeptRow>();

  /**
   * The row of `owner` for `key` and `uptime` (seconds, its one field that moves by itself): the kept
   * one if both are the same; the kept one with the new uptime if only that moved; else `build()`.
   */
  row(owner: object, key: RowKey, uptime: number, build: () => Record<string, unknown>): KeptRow {
    const kept = this.#rows.get(owner);
    if (kept && sameKey(kept.key, key)) {
      if (kept.uptime === uptime) return kept;
      if (kept.head !== undefined && kept.tail !== undefined) {
        const moved = { ...kept.row };
        moved.uptime = uptime;
        const next = { ...kept, row: Object.freeze(moved), json: `${kept.head}${uptime}${kept.tail}`, uptime };
        this.#rows.set(owner, next);
        return next;
      }
    }
    const row = Object.freeze(build());
    const json = JSON.stringify(row);
    const fresh: KeptRow = { key, row, json, uptime };
    // Keys are written in a fixed order and strings are escaped, so `"uptime":` occurs once, as the key.
    const at = row.uptime === uptime ? json.indexOf(`"uptime":${uptime}`) : -1;
    if (at >= 0) {
      fresh.head = json.slice(0, at + '"uptime":'.length);
      fresh.tail = json.slice(at + `"uptime":${uptime}`.length);
    }
    this.#rows.set(owner, fresh);
    return fresh;
  }
}

function sameKey(a: RowKey, b: RowKey): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

/** Lists whose JSON is already known, for the HTTP front (see `jsonOfList`). */
const listJson = new WeakMap<readonly unknown[], string[]>();

/** A frozen list of kept rows that the HTTP front serialises by joining their texts. */
export function rowList(rows: KeptRow[]): readonly unknown[] {
  const list = Object.freeze(rows.map((kept) => kept.row));
  listJson.set(
    list,
    rows.map((kept) => kept.json),
  );
  return list;
}

/** `JSON.stringify(data)` for a list made by `rowList`, without walking its rows; undefined otherwise. */
export function jsonOfList(data: unknown): string | undefined {
  if (!Array.isArray(data)) return undefined;
  const texts = listJson.get(data);
  return texts ? `[${texts.join(',')}]` : undefined;
}
