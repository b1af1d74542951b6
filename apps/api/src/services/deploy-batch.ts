import { type Db, insertQueuedVms, type NotQueued, type QueuedVmInput, type VmQuotaDefaults } from '@glassdome/db';
import type { OutboxRelay } from '@glassdome/runtime';

/**
 * A deploy committed: its VM, steps and intent are in Postgres, and the intent has been handed to the
 * relay (OutboxRelay.sendCommitted), which sends it to BullMQ with the next addBulk, or, if Redis
 * refuses it, on its next pass.
 */
export type Committed = { inserted: true };

/** Deploys written in one statement at most; more wait for the next. */
const MAX_BATCH = 256;

interface Waiting {
  vm: QueuedVmInput;
  resolve(result: Committed | NotQueued): void;
  reject(error: unknown): void;
}

/**
 * Group commit of standalone VM deploys. The deploys of one project are counted under one lock
 * (the project's usage row) and each commit waits for the WAL to reach the disk, so one statement
 * per request would cap a project at one commit's worth of deploys at a time. Instead the deploys
 * that arrive while a project's statement runs wait and go together in the next one
 * (`insertQueuedVms`: one round trip, one lock, one commit), and their intents go to the relay
 * together (one `addBulk`, with other commits' intents when a send is already in flight). Each caller
 * gets its answer once its VM is committed, not waiting for Redis. The statement also
 * deletes the outbox rows of intents sent since the last one (OutboxRelay.takeSent).
 *
 * When the statement cannot take the batch whole — a name already taken, or the VMs together over a
 * quota — each deploy of it is tried alone, in arrival order, so each gets exactly the answer it
 * would have got by itself (the room left, its own conflict).
 */
export class DeployBatcher {
  readonly #waiting = new Map<string, Waiting[]>();
  readonly #running = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly relay: OutboxRelay,
    private readonly steps: readonly string[],
    private readonly quotas: VmQuotaDefaults,
  ) {}

  /** Writes `vm` (with its steps and intent) into `project`, alone or with concurrent deploys. */
  deploy(project: string, vm: QueuedVmInput): Promise<Committed | NotQueued> {
    return new Promise((resolve, reject) => {
      const queue = this.#waiting.get(project);
      if (queue) queue.push({ vm, resolve, reject });
      else this.#waiting.set(project, [{ vm, resolve, reject }]);
      // Requests parsed in the same turn of the event loop join the first batch.
      if (!this.#running.has(project)) {
        this.#running.add(project);
        setImmediate(() => this.#run(project));
      }
    });
  }

  async #run(project: string): Promise<void> {
    for (;;) {
      const queue = this.#waiting.get(project) ?? [];
      const batch = queue.splice(0, MAX_BATCH);
      if (queue.length === 0) this.#waiting.delete(project);
      if (batch.length === 0) break;
      await this.#write(project, batch);
    }
    this.#running.delete(project);
  }

  async #write(project: string, batch: Waiting[]): Promise<void> {
    const together = await this.#attempt(project, batch);
    const settled = !('error' in together) && (together.inserted || together.reason === 'no-project');
    if (settled || batch.length === 1) {
      for (const waiting of batch) settle(waiting, together);
      return;
    }
    for (const waiting of batch) settle(waiting, await this.#attempt(project, [waiting]));
  }

  #attempt(project: string, batch: Waiting[]): Promise<Committed | NotQueued | { error: unknown }> {
    return this.#insert(project, batch).catch((error: unknown) => ({ error }));
  }

  async #insert(project: string, batch: Waiting[]): Promise<Committed | NotQueued> {
    // The rows of intents already sent go in the same statement (see OutboxRelay.takeSent).
    const sentIds = this.relay.takeSent();
    const queued = await insertQueuedVms(
      this.db,
      project,
      batch.map((waiting) => waiting.vm),
      this.steps,
      this.quotas,
      sentIds,
    ).catch((error: unknown) => {
      this.relay.returnSent(sentIds);
      throw error;
    });
    if (!queued.inserted) return queued;
    // Not awaited: the relay logs a refusal, and the intents stay in the outbox for its next pass.
    void this.relay.sendCommitted(queued.outbox);
    return { inserted: true };
  }
}

function settle(waiting: Waiting, result: Committed | NotQueued | { error: unknown }): void {
  if ('error' in result) waiting.reject(result.error);
  else waiting.resolve(result);
}
