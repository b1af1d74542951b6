import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';

// int8 (bigserial ids, counts) as JS numbers: every id we keep stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Db = Kysely<Database>;

/** Each handle's pool size, so that `openConnections` never asks for more than its pool holds. */
const poolSizes = new WeakMap<Db, number>();

export interface DbOptions {
  /** Largest number of pooled connections. @defaultValue 10 */
  maxConnections?: number;
  /** Milliseconds to wait for a connection before failing. @defaultValue 5000 */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a pooled connection may stay idle before it is closed. pg's default (10 s) emptied
   * the pools between two labs: each deploy after a quiet spell opened its connections again (the
   * lab bench: about 16 per deploy after the previous lab's destroy), each a TCP connect, a backend
   * started and the hot statements (`preparedByName`) parsed again. @defaultValue 300000
   */
  idleTimeoutMs?: number;
}

/** Statement texts run by name (see `preparedByName`), and the name of each. */
const PREPARED = new Map<string, string>();
/** A bound on the names, each held by every connection: only a few hot statements belong here. */
const MAX_PREPARED = 16;

/**
 * Runs the compiled statement `text` as a named prepared statement from now on: each connection
 * has Postgres parse and plan it once, then only binds and executes it (a deploy's statement: about
 * a fifth less of the backend's CPU per run, measured on a 2-core machine). For the few hot statements
 * whose text is the same at every run (parameters carry what varies); beyond MAX_PREPARED texts,
 * statements run unnamed as before.
 */
export function preparedByName(text: string): void {
  if (!PREPARED.has(text) && PREPARED.size < MAX_PREPARED) PREPARED.set(text, `glassdome_${PREPARED.size + 1}`);
}

/**
 * pg's client, running the texts `preparedByName` marked under their names (Kysely passes text and
 * values, and awaits the answer).
 *
 * Kysely's call (text, values, no callback) is answered through a callback of our own rather than
 * pg's promise form. pg's promise form makes its query object first and gives it a callback after,
 * and with that object made so, nearly all of a query's rows survived each young-generation
 * collection and were promoted: in the API, each scavenge during `GET /vms` pages carried some 5.7 MB
 * of survivors (0.15 MB given the callback at once), and the longest one of the lists bench's first
 * `/vms` page line paused 6.7–12.8 ms, the lists' p99 (3.0–4.8 ms given the callback at once;
 * bench/lists.bench.ts with BENCH_LIST_GC=1). The answer and the error are pg's own; Kysely adds the
 * caller's stack to an error itself.
 */
class Client extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query() has a dozen overloads; this passes them all through
  override query(config: any, values?: any, callback?: any): any {
    if (typeof values === 'function') [values, callback] = [undefined, values];
    const name = typeof config === 'string' ? PREPARED.get(config) : undefined;
    // biome-ignore lint/suspicious/noExplicitAny: the caller's callback, or ours, passed through as pg takes it
    const send = (answer: any) =>
      name === undefined ? super.query(config, values, answer) : super.query({ name, text: config, values }, answer);
    if (typeof config !== 'string' || callback !== undefined) return send(callback);
    return new Promise((resolve, reject) => {
      send((error: Error | null, result: unknown) => (error ? reject(error) : resolve(result)));
    });
  }
}

/** Opens a pooled Kysely handle on `url`. Nothing connects until the first query. */
export function createDb(url: string, options: DbOptions = {}): Db {
  const max = options.maxConnections ?? 10;
  const pool = new pg.Pool({
    Client,
    connectionString: url,
    max,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 300_000,
  });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor one that is checked out between two queries (a transaction, a pinned session) when Postgres
  // restarts: its work fails with the error, the pool drops it, and the process lives on.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namingBusyWaits(pool, max) }) });
  poolSizes.set(db, max);
  return db;
}

/**
 * Opens `wanted` connections of `db`'s pool now (at most the pool's size) and puts them back idle, for
 * a process that will use them anyway (a worker running jobs side by side): started with an empty
 * pool, its first burst of jobs opened them one by one in its own time (each a TCP connect and a
 * backend's start-up, about half a millisecond of the process's CPU each). Kept open as any idle
 * connection is (`idleTimeoutMs`). Rejects with the first connection's error; the connections opened
 * are returned to the pool either way.
 */
export async function openConnections(db: Db, wanted: number): Promise<void> {
  const count = Math.min(wanted, poolSizes.get(db) ?? wanted);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let opened = 0;
  let allOpen!: () => void;
  const open = new Promise<void>((resolve) => {
    allOpen = resolve;
  });
  // Each holder keeps its connection until every one is open, so the pool has to open `count`.
  const holders = Array.from({ length: count }, () =>
    db.connection().execute(async () => {
      opened++;
      if (opened === count) allOpen();
      await held;
    }),
  );
  try {
    await Promise.race([open, Promise.all(holders)]);
  } finally {
    release();
  }
  await Promise.all(holders);
}

/**
 * pg-pool fails a caller that waited `connectTimeoutMs` for a connection with the same words whether
 * Postgres did not answer a new connection or every connection was lent out all that time; the
 * second fails here as a PostgresPoolBusyError, which says so. Either way the job meeting it waits and
 * runs again without spending an attempt (the words are kept).
 */
function namingBusyWaits(pool: pg.Pool, max: number) {
  let lent = 0;
  pool.on('acquire', () => lent++);
  pool.on('release', () => lent--);
  return {
    connect: () =>
      pool.connect().catch((error: unknown) => {
        throw lent >= max ? new PostgresPoolBusyError(max, pool.waitingCount, error) : error;
      }),
    end: () => pool.end(),
  };
}

/** Every connection of the process's pool was in use for as long as a caller could wait for one. */
export class PostgresPoolBusyError extends Error {
  constructor(max: number, waiting: number, cause: unknown) {
    super(
      `all ${max} Postgres connections of this process were in use (${waiting} more callers waiting): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'PostgresPoolBusyError';
  }
}

/**
 * Runs `work` in one transaction on `db`: committed when it resolves, rolled back when it throws.
 * Repository functions called with the handle `work` receives take part in the transaction.
 */
export function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(work);
}

/** One round trip on the pool (`select 1`): rejects when Postgres does not answer. */
export async function pingDb(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

/** Raised when Postgres cannot be reached or refuses us, with what to do about it. */
export class PostgresUnavailableError extends Error {
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(
      `Postgres at ${target} is not available (${reason}); start it (e.g. \`pg_ctlcluster 15 main start\` or \`docker compose up -d postgres\`) and check DATABASE_URL`,
    );
    this.name = 'PostgresUnavailableError';
  }
}

/**
 * Where a URL points, for messages: host:port/database, never the password. A `host` parameter
 * wins over the URL's host, as pg reads it (a directory there is Postgres's Unix socket).
 */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.searchParams.get('host') || parsed.hostname;
    return `${host}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/** Runs `select 1`; turns any failure into a PostgresUnavailableError naming the target and cause. */
export async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new PostgresUnavailableError(describePostgresUrl(url), err.code ?? err.message);
  } finally {
    await client.end().catch(() => {});
  }
}
