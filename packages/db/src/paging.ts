/**
 * Keyset pagination: every list is read in one fixed order (newest first, the row's id breaking
 * ties), and a page starts right after the last row of the previous one, found through an index in
 * O(page) however deep it is. The position travels as an opaque cursor (base64url JSON naming its
 * list, the sort value and the id); OFFSET still works for older clients but costs O(offset).
 *
 * A repository composes it with its own filters and scoping:
 *   const rows = await pageQuery(query, KEYSET, page).execute();
 *   return pageOf(rows, KEYSET, page);
 */
import { type SelectQueryBuilder, sql } from 'kysely';

/** A list's order: a timestamptz column (newest first) and an id column (largest first on ties). */
export interface Keyset {
  /** Names the list inside its cursors: a cursor from one list is refused by another. */
  list: string;
  /** The sort column, qualified (`vms.created_at`); absent when the id alone orders the list. */
  at?: string;
  /** The tie-breaking (or only) column, qualified (`vms.id`). */
  id: string;
  /** How the id column compares. */
  idType: 'uuid' | 'bigint';
  /** Oldest first instead (event history reads forwards). @defaultValue false */
  ascending?: boolean;
}

/** A decoded position: the last row's sort value (µs-exact text) and id. */
export interface Cursor {
  list: string;
  at: string | null;
  id: string;
}

export interface PageRequest {
  /** Rows per page. */
  limit: number;
  /** Where the page starts: the previous page's `nextCursor`, decoded (`decodeCursor`). */
  cursor?: Cursor | undefined;
  /** Deprecated: rows to skip, O(offset). Ignored when a cursor is given. */
  offset?: number | undefined;
}

export interface Page<T> {
  items: T[];
  /** The cursor of the page after this one, or null when this one is the last. */
  nextCursor: string | null;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT = /^\d{1,18}$/;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.list, cursor.at, cursor.id])).toString('base64url');
}

/**
 * The cursor `text` holds, or a reason it is not one (garbled, or from another list). The shape is
 * checked strictly: its values reach SQL only as parameters, but a wrong type would fail there.
 */
export function decodeCursor(text: string, keyset: Keyset): Cursor | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return { error: 'is not a cursor this API gave (use the nextCursor of the previous page)' };
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) {
    return { error: 'is not a cursor this API gave (use the nextCursor of the previous page)' };
  }
  const [list, at, id] = parsed as unknown[];
  if (list !== keyset.list) return { error: `is a cursor of another list, not of ${keyset.list}` };
  const atOk = keyset.at ? typeof at === 'string' && TIMESTAMP.test(at) : at === null;
  const idOk = typeof id === 'string' && (keyset.idType === 'uuid' ? UUID : BIGINT).test(id);
  if (!atOk || !idOk) return { error: 'is not a cursor this API gave (use the nextCursor of the previous page)' };
  return { list, at: at as string | null, id: id as string };
}

/** The sort value as µs-exact UTC text: a JS Date keeps only milliseconds, which would skip rows. */
const PAGE_KEY = 'page_key';

/**
 * Adds the page's position, order and size to `query`: after the cursor (or the deprecated offset),
 * newest first, one row more than the page so `pageOf` knows whether another follows.
 */
// biome-ignore lint/suspicious/noExplicitAny: composes with any list query of any table.
export function pageQuery<QB extends SelectQueryBuilder<any, any, any>>(
  query: QB,
  keyset: Keyset,
  page: PageRequest,
): QB {
  const direction = keyset.ascending ? 'asc' : 'desc';
  const id = sql.ref(keyset.id);
  const idValue = (value: string) => (keyset.idType === 'uuid' ? sql`${value}::uuid` : sql`${value}::bigint`);
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  let paged: SelectQueryBuilder<any, any, any> = query;
  if (keyset.at) {
    const at = sql.ref(keyset.at);
    paged = paged.select(sql<string>`to_char(${at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as(PAGE_KEY));
    if (page.cursor) {
      const after = keyset.ascending ? sql`>` : sql`<`;
      paged = paged.where(
        sql<boolean>`(${at}, ${id}) ${after} (${page.cursor.at}::timestamptz, ${idValue(page.cursor.id)})`,
      );
    }
    paged = paged.orderBy(at, direction);
  } else if (page.cursor) {
    paged = paged.where(sql<boolean>`${id} ${keyset.ascending ? sql`>` : sql`<`} ${idValue(page.cursor.id)}`);
  }
  paged = paged.orderBy(id, direction).limit(page.limit + 1);
  if (!page.cursor && page.offset) paged = paged.offset(page.offset);
  return paged as QB;
}

/**
 * A select over `pageQuery`'s rows, named `page`, put back in the keyset's order (a subquery's order
 * is not its reader's): for lists that write columns for the page's rows only, once it is cut.
 */
// biome-ignore lint/suspicious/noExplicitAny: as pageQuery.
export function inPageOrder<QB extends SelectQueryBuilder<any, any, any>>(query: QB, keyset: Keyset): QB {
  const direction = keyset.ascending ? 'asc' : 'desc';
  const column = (ref: string) => sql.ref(`page.${ref.slice(ref.lastIndexOf('.') + 1)}`);
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  let ordered: SelectQueryBuilder<any, any, any> = query;
  if (keyset.at) ordered = ordered.orderBy(column(keyset.at), direction);
  return ordered.orderBy(column(keyset.id), direction) as QB;
}

/** The page's rows (without the position column) and the cursor of the next page. */
export function pageOf<Row extends object>(
  rows: Row[],
  keyset: Keyset,
  page: PageRequest,
): Page<Omit<Row, 'page_key'>> {
  const more = rows.length > page.limit;
  const kept = more ? rows.slice(0, page.limit) : rows;
  const last = kept.at(-1) as Record<string, unknown> | undefined;
  const idColumn = keyset.id.slice(keyset.id.lastIndexOf('.') + 1);
  const nextCursor =
    more && last
      ? encodeCursor({
          list: keyset.list,
          at: keyset.at ? String(last[PAGE_KEY]) : null,
          id: String(last[idColumn]),
        })
      : null;
  const items = keyset.at
    ? kept.map((row) => {
        const { [PAGE_KEY]: _position, ...rest } = row as Record<string, unknown>;
        return rest as Omit<Row, 'page_key'>;
      })
    : kept;
  return { items, nextCursor };
}
