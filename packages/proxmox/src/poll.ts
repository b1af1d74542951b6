import type { PollingPolicy } from './config';
import { DeadlineExceededError } from './errors';
import { pause } from './retry';

/**
 * When the first look of each kind of wait (a task type on a node, a guest agent's first address) is
 * taken, learned from the last eight waits of that kind: each tells about when it ended — one over
 * at its first look a twentieth before that look, one that was not in the middle of the span between
 * its last look that saw it unfinished and the one that saw it over — and the next first look comes
 * at the soonest of those ends. So the first look sits at the short end of how long such waits take,
 * whatever order the waits running side by side end in: one over by then is seen soon after its end,
 * one that is not gets the quick looks that follow a learned first look (see pollUntil), and one slow
 * wait moves nothing. Shared by every view of a client (`withSignal`), so each job learns from the
 * others. (Why this rule rather than following each wait, and what it measured: docs/proxmox.md.)
 */
export class FirstLooks {
  readonly #ends = new Map<string, number[]>();

  /**
   * The pause before the first look of a wait of `kind`, once a wait of that kind has ended — or,
   * until then, one of `like` (the same task type on any node); undefined while neither has.
   */
  learned(kind: string, like?: string): number | undefined {
    const ends = this.#ends.get(kind) ?? (like === undefined ? undefined : this.#ends.get(like));
    return ends && Math.round(Math.min(...ends));
  }

  /**
   * A wait of `kind` whose first look came `firstDelayMs` after it began was seen over `endedMs` after
   * it began; its last look that still saw it unfinished came `lastUnfinishedMs` after it began
   * (undefined: the first look saw it over). With `costlyMiss` (see PollOptions.learned) one over at
   * its first look counts a hundredth before it, not a twentieth, so the first look creeps earlier.
   */
  record(
    kind: string,
    firstDelayMs: number,
    lastUnfinishedMs: number | undefined,
    endedMs: number,
    costlyMiss = false,
  ): void {
    const end =
      lastUnfinishedMs === undefined ? firstDelayMs * (costlyMiss ? 0.99 : 0.95) : (lastUnfinishedMs + endedMs) / 2;
    const ends = this.#ends.get(kind) ?? [];
    ends.push(end);
    if (ends.length > REMEMBERED) ends.shift();
    this.#ends.set(kind, ends);
  }
}

/** How many of the last waits of a kind the first look is learned from. */
const REMEMBERED = 8;

export interface PollOptions {
  /** What is awaited, for the deadline error. */
  what: string;
  deadlineMs: number;
  polling: PollingPolicy;
  /** Stops the wait at once, rejecting with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Pause before the first check, for what cannot be done yet when the wait begins (a task just
   * submitted): a call saved per wait. With `learned`, only until a wait of its kind has ended.
   * @defaultValue 0
   */
  firstDelayMs?: number;
  /**
   * The first check timed from how long waits of `kind` took before (see FirstLooks); until a wait of
   * `kind` has ended, from those of `like` (a task type on any node), if any. `costlyMiss` for waits
   * whose check costs far more when it comes too soon than it loses when it comes late (a guest agent
   * not yet running answers only after a ping of about 3 s): their first look creeps earlier slowly.
   */
  learned?: { looks: FirstLooks; kind: string; like?: string; costlyMiss?: boolean };
}

/**
 * After a learned first look that found the wait not over yet, the next looks come at a twentieth of
 * that first look (50 ms at least, the policy's first interval at most), growing as usual: the end
 * is likely near, and each look later than it is time a caller may be holding a node's slot for
 * nothing (the class bench: clone tasks seen 440 ms after their end on average, resizes 160 ms,
 * starts 130 ms, when the next look came the full first interval of 300 ms after a miss).
 */
const FOLLOW_UP_SHARE = 20;
const FOLLOW_UP_MIN_MS = 50;

/**
 * Calls `check` until it returns a value (not undefined), waiting a growing interval between calls and
 * giving up with a DeadlineExceededError once `deadlineMs` has passed, or with the signal's reason as
 * soon as it fires. Errors from `check` propagate.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const began = Date.now();
  const deadline = began + options.deadlineMs;
  const { learned } = options;
  const learnedMs = learned?.looks.learned(learned.kind, learned.like);
  const firstDelayMs = learnedMs ?? options.firstDelayMs ?? 0;
  let interval =
    learnedMs === undefined
      ? options.polling.initialMs
      : Math.min(options.polling.initialMs, Math.max(FOLLOW_UP_MIN_MS, Math.round(learnedMs / FOLLOW_UP_SHARE)));
  let lastUnfinishedMs: number | undefined;
  if (firstDelayMs > 0) await pause(Math.min(firstDelayMs, options.deadlineMs), options.signal);
  for (;;) {
    options.signal?.throwIfAborted();
    const lookedAt = Date.now();
    const value = await check();
    if (value !== undefined) {
      if (learned) {
        const { looks, kind, like, costlyMiss } = learned;
        looks.record(kind, firstDelayMs, lastUnfinishedMs, lookedAt - began, costlyMiss);
        if (like) looks.record(like, firstDelayMs, lastUnfinishedMs, lookedAt - began, costlyMiss);
      }
      return value;
    }
    lastUnfinishedMs = lookedAt - began;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new DeadlineExceededError(`${options.what} did not happen within ${options.deadlineMs} ms`);
    }
    await pause(Math.min(interval, remaining), options.signal);
    interval = Math.min(options.polling.maxMs, Math.ceil(interval * 1.5));
  }
}
