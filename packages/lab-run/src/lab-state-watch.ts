/**
 * One watch per process over every lab its running tasks belong to: a single query reads the status
 * and run of all of them each interval and tells each task's listener, instead of every task polling
 * its own lab (64 tasks of one lab were 64 reads a second of the same row).
 */
import { type Db, getLabRunStates } from '@glassdome/db';

/** A lab's status and run as last read; undefined once the lab is gone. */
export type LabRunState = { status: string; run: number } | undefined;

type Listener = (state: LabRunState) => void;

class LabStateWatch {
  readonly #listeners = new Map<string, Set<Listener>>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(
    private readonly db: Db,
    private readonly intervalMs: number,
  ) {}

  /** Calls `listener` with the lab's state after every read until the returned function is called. */
  watch(labId: string, listener: Listener): () => void {
    let set = this.#listeners.get(labId);
    if (!set) {
      set = new Set();
      this.#listeners.set(labId, set);
    }
    set.add(listener);
    this.#timer ??= setInterval(() => this.#poll(), this.intervalMs).unref();
    return () => {
      const current = this.#listeners.get(labId);
      current?.delete(listener);
      if (current?.size === 0) this.#listeners.delete(labId);
      if (this.#listeners.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  #poll(): void {
    if (this.#polling || this.#listeners.size === 0) return;
    this.#polling = true;
    const ids = [...this.#listeners.keys()];
    getLabRunStates(this.db, ids)
      .then((rows) => {
        const byId = new Map(rows.map((row) => [row.id, { status: row.status, run: row.run }]));
        for (const id of ids) {
          for (const listener of this.#listeners.get(id) ?? []) listener(byId.get(id));
        }
      })
      // Postgres briefly away is no reason to stop anything: the next read decides.
      .catch(() => {})
      .finally(() => {
        this.#polling = false;
      });
  }
}

const watches = new WeakMap<Db, Map<number, LabStateWatch>>();

/** The process's watch over labs read through `db`, polling every `intervalMs`. */
export function labStateWatch(db: Db, intervalMs: number): LabStateWatch {
  let byInterval = watches.get(db);
  if (!byInterval) {
    byInterval = new Map();
    watches.set(db, byInterval);
  }
  let watch = byInterval.get(intervalMs);
  if (!watch) {
    watch = new LabStateWatch(db, intervalMs);
    byInterval.set(intervalMs, watch);
  }
  return watch;
}

/** The lab's state now, read on the spot (one small row). */
export async function readLabRunState(db: Db, labId: string): Promise<LabRunState> {
  const [row] = await getLabRunStates(db, [labId]);
  return row ? { status: row.status, run: row.run } : undefined;
}
