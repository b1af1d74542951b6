import { type Db, deleteOutboxIntents, outboxHasIntents, relayOutboxBatch } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import { type Producer, parseIntent, sendIntents } from '@glassdome/queue';

export interface OutboxRelayOptions {
  /** How often the relay looks for intents nobody flushed (a crash after commit). @defaultValue 1000 */
  intervalMs?: number;
  /** Intents per transaction and per `addBulk`. @defaultValue 500 */
  batch?: number;
  /**
   * How long one send to Redis may take before the relay stops waiting for it: a send of committed
   * intents (`sendCommitted`) then fails and the next batch goes; a pass's send fails and its
   * transaction ends, the rows kept for the next pass. @defaultValue 10000
   */
  sendTimeoutMs?: number;
  /** Least time between the starts of two sends of committed intents. @defaultValue SEND_GAP_MS (15) */
  sendGapMs?: number;
}

/** Committed intents that go to Redis in one `addBulk`, and their callers' answer. */
interface CommittedBatch {
  rows: { id: number; intent: unknown }[];
  sent: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function committedBatch(): CommittedBatch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const sent = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  // Callers may drop it (the relay has logged the refusal): never an unhandled rejection.
  sent.catch(() => {});
  return { rows: [], sent, resolve, reject };
}

/**
 * How long the rows of intents sendCommitted sent wait for a statement to delete them with its own
 * work (`takeSent`) before they get a statement of their own. Under load the next group commit comes
 * within a few milliseconds; meanwhile a relay pass may send them again, which adds nothing.
 */
const SENT_DELETE_MS = 20;

/**
 * Least time between the starts of two sends of committed intents. Under load the group commits
 * come every millisecond or two, a few deploys each, and without a gap each went in an addBulk of
 * its own: each addBulk costs a pipeline (ioredis copies BullMQ's 64 scripts onto every one, about
 * 35 us), a write to Redis, and a wake-up of the workers for a handful of jobs. After a quiet spell
 * a send still leaves at once.
 */
const SEND_GAP_MS = 15;

/**
 * Moves outbox intents to BullMQ. A writer that knows the rows it committed hands them to
 * `sendCommitted` (batched addBulks, no pass); `flush()` right after a commit sends everything
 * committed so far (concurrent callers share one pass, so a burst becomes a few bulk adds); the timer
 * catches whatever a crashed process committed but never sent, and what Redis refused. Any number of
 * relays may run: rows are claimed with SKIP LOCKED and job ids are deterministic.
 */
export class OutboxRelay {
  #chain: Promise<void> = Promise.resolve();
  #next: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #quietUntil = 0;
  /** The timer's read in flight (`stop` waits for it), and whether `stop` was called. */
  #ticking: Promise<void> | null = null;
  #stopped = false;

  constructor(
    private readonly db: Db,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly options: OutboxRelayOptions = {},
  ) {}

  start(): this {
    this.#timer = setInterval(() => {
      if (this.#ticking || Date.now() < this.#quietUntil) return;
      this.#ticking = this.#tick()
        .catch(() => {})
        .finally(() => {
          this.#ticking = null;
        });
    }, this.options.intervalMs ?? 1000);
    this.#timer.unref();
    return this;
  }

  /**
   * The timer's pass: one plain read first (does any intent wait?), and a pass (a transaction that
   * locks the rows: begin, select, commit) only when one does. A relay with nothing to send spends
   * one statement a tick instead of three. A row committed after the read waits for the next tick,
   * as one committed after a pass's select always did; a read that fails runs the pass, which
   * reports Postgres and backs off. A read that ends after `stop` opens no pass.
   */
  async #tick(): Promise<void> {
    if (this.#next) return this.#next;
    const waiting = await outboxHasIntents(this.db).catch(() => true);
    if (waiting && !this.#stopped) await this.flush();
  }

  /** Sends every intent committed so far; resolves when they are in Redis, rejects if Redis refused them. */
  flush(): Promise<void> {
    if (this.#next) return this.#next;
    const run = this.#chain.then(() => {
      this.#next = null;
      return this.#drain();
    });
    this.#next = run;
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Committed intents waiting for the send in flight to end, in batches of `batch` at most. */
  readonly #waiting: CommittedBatch[] = [];
  /** The sends of committed intents, one batch at a time; null when none waits. */
  #sending: Promise<void> | null = null;
  /** When the last send of committed intents started (performance.now()). */
  #sentAt = Number.NEGATIVE_INFINITY;

  /**
   * Sends intents their caller has just committed (it knows their outbox rows): one `addBulk` per
   * batch, no transaction and no relay pass. One batch is in flight at a time: rows handed while it
   * is go together in the next one, so the group commits of a burst share a round trip to Redis
   * (a batch leaves once the current turn of the event loop is over, with every row handed in it,
   * and SEND_GAP_MS after the previous one at the soonest). Their rows are then deleted by the next
   * statement that takes them (`takeSent`: a deploy's group commit carries the delete, so a burst
   * spends no statement and no commit of its own on it),
   * else by a statement of their own SENT_DELETE_MS later. A row left behind by a failed delete or a
   * crash is sent again by a pass, which adds nothing: job ids are deterministic.
   *
   * Resolves once these rows are in Redis; rejects if Redis refused them or did not answer within
   * `sendTimeoutMs` (or refused the batch in flight when they were handed), and then the rows stay
   * in the outbox for the relay's next pass. A caller that
   * answers at its commit may drop the promise: the relay logs a refusal itself and a rejection here
   * never goes unhandled.
   */
  sendCommitted(rows: readonly { id: number; intent: unknown }[]): Promise<void> {
    const max = this.options.batch ?? 500;
    let last = this.#waiting.at(-1);
    if (!last || last.rows.length >= max) {
      last = committedBatch();
      this.#waiting.push(last);
    }
    last.rows.push(...rows);
    this.#sending ??= this.#sendWaiting();
    return last.sent;
  }

  async #sendWaiting(): Promise<void> {
    for (;;) {
      // Every row handed in the current turn goes with the batch, and a batch leaves SEND_GAP_MS
      // after the previous one at the soonest.
      const gapMs = this.#sentAt + (this.options.sendGapMs ?? SEND_GAP_MS) - performance.now();
      await new Promise((resolve) => (gapMs > 0 ? setTimeout(resolve, gapMs) : setImmediate(resolve)));
      const batch = this.#waiting.shift();
      if (!batch) break;
      this.#sentAt = performance.now();
      try {
        await this.#sendWithin(batch.rows);
        this.returnSent(batch.rows.map((row) => row.id));
        batch.resolve();
      } catch (error) {
        // The batches waiting behind it fail with it (their rows stay for the pass too), so a Redis
        // that takes commands and never answers holds the intents of one sendTimeoutMs in memory
        // at most, not every batch handed meanwhile each waiting its own timeout.
        const failed = [batch, ...this.#waiting.splice(0)];
        this.log.warn(
          { err: error, intents: failed.reduce((sum, each) => sum + each.rows.length, 0) },
          'outbox relay: Redis refused committed intents; kept in the outbox for the next pass',
        );
        for (const each of failed) each.reject(error);
      }
    }
    // Nothing waits any more (no await between the last look and this line).
    this.#sending = null;
  }

  /** `#send`, given up after `sendTimeoutMs` (a Redis that takes the command and never answers). */
  #sendWithin(rows: { id: number; intent: unknown }[]): Promise<void> {
    const ms = this.options.sendTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer an addBulk within ${ms} ms`)), ms);
    });
    return Promise.race([this.#send(rows), late]).finally(() => clearTimeout(timer));
  }

  /** Ids of intents sent by sendCommitted whose rows are not deleted yet. */
  #sent: number[] = [];
  #sentTimer: NodeJS.Timeout | undefined;

  /**
   * Hands the caller the ids of sent intents whose rows are still to be deleted: its next statement
   * deletes them. If that statement fails, the caller gives them back (`returnSent`).
   */
  takeSent(): number[] {
    return this.#sent.splice(0);
  }

  /** Sent intents whose rows are still to be deleted: by the next `takeSent`, or SENT_DELETE_MS from now. */
  returnSent(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.#sent.push(...ids);
    this.#sentTimer ??= setTimeout(() => this.#deleteSent(), SENT_DELETE_MS);
  }

  #deleteSent(): void {
    clearTimeout(this.#sentTimer);
    this.#sentTimer = undefined;
    const ids = this.takeSent();
    if (ids.length === 0) return;
    const deleting: Promise<void> = deleteOutboxIntents(this.db, ids)
      .catch((error: unknown) => {
        this.log.warn({ err: error }, 'outbox relay: sent intents not deleted; the next pass sends and deletes them');
      })
      .finally(() => this.#deleting.delete(deleting));
    this.#deleting.add(deleting);
  }

  /** The deletes of sent intents still running (stop waits for them). */
  readonly #deleting = new Set<Promise<void>>();

  async #drain(): Promise<void> {
    const batch = this.options.batch ?? 500;
    try {
      // A pass holds its rows in a transaction while it sends: bounded like a send of committed
      // intents, so a Redis that takes the command and never answers does not hold it (and every
      // later pass behind it) for good.
      while ((await relayOutboxBatch(this.db, batch, (rows) => this.#sendWithin(rows))) === batch) {}
    } catch (error) {
      // Back off the timer a little; the rows stay for the next pass.
      this.#quietUntil = Date.now() + 2_000;
      this.log.warn({ err: error }, 'outbox relay: Redis or Postgres refused; intents kept for the next pass');
      throw error;
    }
  }

  async #send(rows: { id: number; intent: unknown }[]): Promise<void> {
    const intents = [];
    for (const row of rows) {
      try {
        intents.push(parseIntent(row.intent));
      } catch (error) {
        // Not something we wrote: dropped (with its row), loudly.
        this.log.error({ outboxId: row.id, err: error }, 'outbox relay: dropping an intent that does not parse');
      }
    }
    await sendIntents(this.producer, intents);
  }

  /** Stops the timer; waits for the passes and the sends of committed intents under way, then deletes the sent rows. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopped = true;
    await this.#ticking;
    await Promise.all([this.#chain, this.#sending]);
    this.#deleteSent();
    await Promise.all(this.#deleting);
  }
}
