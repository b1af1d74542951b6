/**
 * One shared feed of new events and lab status changes for a whole process, instead of every event
 * stream polling Postgres. Triggers NOTIFY `glassdome_changes` at commit (`event:<min>:<max>` per
 * inserting statement, `lab:<id>` per status change); one dedicated connection LISTENs, reads each
 * committed id range once and hands the rows to the subscribers of their lab. It LISTENs only while
 * someone subscribes: otherwise every deploy step would wake the process for a notification it
 * drops (about 7 per lab VM; measured at ~0.2 ms of an API's main thread each). And while it listens
 * its connection is registered in `change_feed_listeners`, without which the event trigger does not
 * notify at all (migration 0019: a notifying transaction holds a database-wide lock through its
 * commit, so concurrent deploys queued on it). A lost connection is re-established, and a slow
 * catch-up read covers anything a notification did not say.
 */
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from './connection';
import { getLabStatus } from './repositories/labs';
import type { EventsTable } from './schema';

export const CHANGE_CHANNEL = 'glassdome_changes';
/** The feed's connection as Postgres shows it (pg_stat_activity.application_name). */
export const CHANGE_FEED_APPLICATION = 'glassdome change feed';

/** An event row as subscribers get it. */
export interface FeedEvent {
  id: number;
  at: Date;
  lab_id: string | null;
  vm_id: string | null;
  kind: string;
  message: string;
  data: EventsTable['data'];
  project: string;
  private: boolean;
}

export interface FeedSubscriber {
  /** New events of the subscribed lab, oldest first; each event once. */
  onEvents(events: FeedEvent[]): void;
  /** The lab's status changed (or may have: the subscriber compares). */
  onStatus(status: string): void;
}

export interface ChangeFeedOptions {
  /** How often a catch-up read runs while someone subscribes. @defaultValue 5000 */
  catchUpMs?: number;
  /** Wait before reconnecting a lost LISTEN connection. @defaultValue 1000 */
  reconnectMs?: number;
  /** Called with each problem (a lost connection, a failed read); the feed carries on. */
  onError?: (error: unknown) => void;
}

/** Rows read per query; a larger range is read in pages. */
const PAGE = 1000;
/** Ids remembered as delivered, so overlapping ranges never deliver a row twice. */
const REMEMBERED = 20_000;

/**
 * Registers the connection as a listener, so that statements inserting events notify (migration
 * 0019), in one transaction that first takes a SHARE lock on `events`: it waits until every
 * transaction that inserted events before it has ended (those may have seen no listener and not
 * notified), and inserts after it see the registration. Whatever committed unnotified is therefore
 * committed before the feed reads where to start from, and is the subscribers' history. Rows of
 * connections that are gone (a process that died while listening) are removed on the way. A lock
 * that cannot be had within 5 s fails the registration, which `#syncListening` tries again.
 */
async function register(client: pg.Client): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '5s'`);
    await client.query('LOCK TABLE events IN SHARE MODE');
    await client.query(REGISTER);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Forgets listeners whose connection is gone (a process that died, or closed, while listening). */
const FORGET_GONE =
  'DELETE FROM change_feed_listeners WHERE pid NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)';

const REGISTER = `WITH gone AS (${FORGET_GONE})
  INSERT INTO change_feed_listeners (pid) VALUES (pg_backend_pid()) ON CONFLICT (pid) DO NOTHING`;

const UNREGISTER = 'DELETE FROM change_feed_listeners WHERE pid = pg_backend_pid()';

export class ChangeFeed {
  readonly #db: Db;
  readonly #url: string | undefined;
  readonly #options: Required<Omit<ChangeFeedOptions, 'onError'>> & Pick<ChangeFeedOptions, 'onError'>;
  readonly #subscribers = new Map<string, Set<FeedSubscriber>>();
  readonly #delivered = new Set<number>();
  #client: pg.Client | undefined;
  /** Whether #client LISTENs now (set before an UNLISTEN is sent, after a LISTEN returned). */
  #listening = false;
  /** The connection was lost while LISTENing: once back, read what committed meanwhile (from #highest). */
  #missed = false;
  /** Subscribers waiting for the feed to LISTEN. */
  #waiting: (() => void)[] = [];
  #closed = false;
  #highest = 0;
  #pending: Promise<void> = Promise.resolve();
  #catchUp: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;

  /** Without `databaseUrl` nothing LISTENs: the catch-up read alone (one query per interval) feeds every subscriber. */
  constructor(db: Db, databaseUrl: string | undefined, options: ChangeFeedOptions = {}) {
    this.#db = db;
    this.#url = databaseUrl;
    this.#options = { catchUpMs: options.catchUpMs ?? 5_000, reconnectMs: options.reconnectMs ?? 1_000, ...options };
  }

  /** Connects (LISTENing once someone subscribes); the newest event id at that moment is where the feed starts. */
  async start(): Promise<this> {
    this.#highest = await this.#newestEventId();
    // A listener left registered by a process gone would keep every deploy notifying.
    await sql.raw(FORGET_GONE).execute(this.#db);
    this.#catchUp = setInterval(() => {
      if (this.#subscribers.size > 0) this.#enqueue(() => this.#readAfter(this.#highest));
    }, this.#options.catchUpMs);
    this.#catchUp.unref();
    if (this.#url) {
      await this.#connect().catch((error: unknown) => {
        this.#scheduleReconnect();
        throw error;
      });
    }
    return this;
  }

  /** Open subscriptions (for bounds and metrics). */
  get subscriptions(): number {
    let count = 0;
    for (const set of this.#subscribers.values()) count += set.size;
    return count;
  }

  /**
   * Events and status changes of one lab; resolves with the unsubscribe function once the feed
   * listens, so that every event committed from then on reaches the subscriber (the first
   * subscriber of an idle feed waits for its LISTEN: one round trip; the others not at all).
   */
  async subscribe(labId: string, subscriber: FeedSubscriber): Promise<() => void> {
    let set = this.#subscribers.get(labId);
    if (!set) {
      set = new Set();
      this.#subscribers.set(labId, set);
    }
    set.add(subscriber);
    const unsubscribe = () => {
      const current = this.#subscribers.get(labId);
      current?.delete(subscriber);
      if (current?.size === 0) this.#subscribers.delete(labId);
      if (this.#subscribers.size > 0) return;
      // Nobody left to hand what a lost connection missed.
      this.#missed = false;
      if (this.#client) this.#enqueue(() => this.#syncListening());
    };
    if (this.#url && !this.#closed && !this.#listening) {
      const listening = new Promise<void>((resolve) => this.#waiting.push(resolve));
      if (this.#client) this.#enqueue(() => this.#syncListening());
      await listening;
    }
    return unsubscribe;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#catchUp);
    clearTimeout(this.#reconnect);
    this.#subscribers.clear();
    for (const resolve of this.#waiting.splice(0)) resolve();
    const client = this.#client;
    this.#client = undefined;
    if (client && this.#listening) await client.query(UNREGISTER).catch(() => {});
    await client?.end().catch(() => {});
    await this.#pending.catch(() => {});
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url!,
      connectionTimeoutMillis: 5_000,
      application_name: CHANGE_FEED_APPLICATION,
    });
    const lost = (error?: unknown) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#missed ||= this.#listening;
      this.#listening = false;
      if (error) this.#options.onError?.(error);
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === CHANGE_CHANNEL) this.#onNotification(message.payload ?? '');
    });
    await client.connect();
    this.#client = client;
    if (this.#subscribers.size > 0) this.#enqueue(() => this.#syncListening());
  }

  /**
   * LISTENs while someone subscribes, UNLISTENs once nobody does; run in the read queue, so a read
   * and a change of listening never interleave. Once it listens, the feed reads from the newest
   * event id then (what committed before is the subscribers' history), or, when its connection was
   * lost while listening, what committed meanwhile; only then are waiting subscribers told. A step
   * that fails is tried again after `reconnectMs`.
   */
  async #syncListening(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    try {
      if (this.#subscribers.size > 0 && !this.#listening) {
        await client.query(`LISTEN ${CHANGE_CHANNEL}`);
        await register(client);
        if (this.#missed) await this.#readAfter(this.#highest);
        else this.#highest = Math.max(this.#highest, await this.#newestEventId());
        if (this.#client !== client) return;
        this.#missed = false;
        this.#listening = true;
      } else if (this.#subscribers.size === 0 && this.#listening) {
        this.#listening = false;
        await client.query(`UNLISTEN ${CHANGE_CHANNEL}`);
        await client.query(UNREGISTER);
      }
    } catch (error) {
      this.#options.onError?.(error);
      if (!this.#closed)
        setTimeout(() => this.#enqueue(() => this.#syncListening()), this.#options.reconnectMs).unref();
    }
    if (this.#listening) for (const resolve of this.#waiting.splice(0)) resolve();
  }

  async #newestEventId(): Promise<number> {
    const row = await this.#db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return Number(row?.id ?? 0);
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    this.#reconnect = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#options.onError?.(error);
        this.#scheduleReconnect();
      });
    }, this.#options.reconnectMs);
    this.#reconnect.unref();
  }

  #onNotification(payload: string): void {
    const event = /^event:(\d+)(?::(\d+))?$/.exec(payload);
    if (event) {
      const max = Number(event[2] ?? event[1]);
      const min = event[2] === undefined ? this.#highest + 1 : Number(event[1]);
      if (this.#subscribers.size === 0) {
        this.#highest = Math.max(this.#highest, max);
        return;
      }
      this.#enqueue(() => this.#readRange(min, max));
      return;
    }
    const lab = /^lab:([0-9a-f-]{36})$/.exec(payload);
    if (lab && this.#subscribers.has(lab[1]!)) this.#enqueue(() => this.#readStatus(lab[1]!));
  }

  /** Reads run one after another, so subscribers see events in commit order. */
  #enqueue(read: () => Promise<void>): void {
    this.#pending = this.#pending.then(read).catch((error: unknown) => this.#options.onError?.(error));
  }

  async #readRange(min: number, max: number): Promise<void> {
    for (let from = min; from <= max; from += PAGE) {
      const rows = await this.#db
        .selectFrom('events')
        .selectAll()
        .where('id', '>=', from)
        .where('id', '<=', Math.min(max, from + PAGE - 1))
        .orderBy('id')
        .execute();
      this.#dispatch(rows);
    }
    this.#highest = Math.max(this.#highest, max);
  }

  async #readAfter(afterId: number): Promise<void> {
    for (let cursor = afterId; ; ) {
      const rows = await this.#db
        .selectFrom('events')
        .selectAll()
        .where('id', '>', cursor)
        .orderBy('id')
        .limit(PAGE)
        .execute();
      this.#dispatch(rows);
      if (rows.length === 0) return;
      cursor = rows[rows.length - 1]!.id;
      this.#highest = Math.max(this.#highest, cursor);
      if (rows.length < PAGE) return;
    }
  }

  async #readStatus(labId: string): Promise<void> {
    const status = await getLabStatus(this.#db, labId);
    if (status === undefined) return;
    for (const subscriber of this.#subscribers.get(labId) ?? []) subscriber.onStatus(status);
  }

  #dispatch(rows: FeedEvent[]): void {
    const byLab = new Map<string, FeedEvent[]>();
    for (const row of rows) {
      if (this.#delivered.has(row.id)) continue;
      this.#delivered.add(row.id);
      if (!row.lab_id || !this.#subscribers.has(row.lab_id)) continue;
      byLab.set(row.lab_id, [...(byLab.get(row.lab_id) ?? []), row]);
    }
    if (this.#delivered.size > REMEMBERED) {
      const keep = [...this.#delivered].slice(-REMEMBERED / 2);
      this.#delivered.clear();
      for (const id of keep) this.#delivered.add(id);
    }
    for (const [labId, events] of byLab) {
      for (const subscriber of this.#subscribers.get(labId) ?? []) subscriber.onEvents(events);
    }
  }
}
