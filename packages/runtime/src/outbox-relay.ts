import { type Db, deleteOutboxIntents, relayOutboxBatch } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import { type Producer, parseIntent, sendIntents } from '@glassdome/queue';

export interface OutboxRelayOptions {
  /** How often the relay looks for intents nobody flushed (a crash after commit). @defaultValue 1000 */
  intervalMs?: number;
  /** Intents per transaction and per `addBulk`. @defaultValue 500 */
  batch?: number;
}

/**
 * How long the rows of intents sendCommitted sent wait for a statement to delete them with its own
 * work (`takeSent`) before they get a statement of their own. Under load the next group commit comes
 * within a few milliseconds; meanwhile a relay pass may send them again, which adds nothing.
 */
const SENT_DELETE_MS = 20;

/**
 * Moves outbox intents to BullMQ. `flush()` right after a commit sends that request's intent at once
 * (concurrent callers share one pass, so a burst becomes a few bulk adds); the timer catches whatever
 * a crashed process committed but never flushed. Any number of relays may run: rows are claimed with
 * SKIP LOCKED and job ids are deterministic.
 */
export class OutboxRelay {
  #chain: Promise<void> = Promise.resolve();
  #next: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #quietUntil = 0;

  constructor(
    private readonly db: Db,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly options: OutboxRelayOptions = {},
  ) {}

  start(): this {
    this.#timer = setInterval(() => {
      if (Date.now() >= this.#quietUntil) this.flush().catch(() => {});
    }, this.options.intervalMs ?? 1000);
    this.#timer.unref();
    return this;
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

  #committed: { id: number; intent: unknown }[] = [];
  #committedSend: Promise<void> | null = null;

  /**
   * Sends intents their caller has just committed (it knows their outbox rows), batched with those of
   * callers in the same turn of the event loop: one `addBulk` per batch, no transaction, so a request
   * waits one round trip to Redis instead of a relay pass. Resolves once they are in Redis. Their
   * rows are then deleted by the next statement that takes them (`takeSent`: a deploy's group commit
   * carries the delete, so a burst spends no statement and no commit of its own on it), else by a
   * statement of their own SENT_DELETE_MS later. A row left behind by a failed delete or a crash is
   * sent again by a pass, which adds nothing: job ids are deterministic. Rejects if Redis refused
   * them; the rows then stay for the next pass.
   */
  sendCommitted(rows: { id: number; intent: unknown }[]): Promise<void> {
    this.#committed.push(...rows);
    this.#committedSend ??= new Promise((resolve) => setImmediate(resolve)).then(async () => {
      const batch = this.#committed.splice(0);
      this.#committedSend = null;
      await this.#send(batch);
      this.returnSent(batch.map((row) => row.id));
    });
    return this.#committedSend;
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
      while ((await relayOutboxBatch(this.db, batch, (rows) => this.#send(rows))) === batch) {}
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

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#chain;
    this.#deleteSent();
    await Promise.all(this.#deleting);
  }
}
