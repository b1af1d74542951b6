import { onAbort } from './abort';
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
 * Waits whose look costs far more when it comes too soon than it loses when it comes late (a guest
 * agent not yet running answers after a ping of about 3 s) learn otherwise: see CostlyLooks.
 */
export class FirstLooks {
  readonly #ends = new Map<string, number[]>();
  readonly #costly = new Map<string, CostlyLooks>();
  /** Waits of a costly kind sleeping until their look is due, woken when it comes sooner. */
  readonly #sleepers = new Map<string, Set<() => void>>();

  /**
   * The pause before the first look of a wait of `kind`, once a wait of that kind has ended — or,
   * until then, one of `like` (the same task type on any node); undefined while neither has.
   */
  learned(kind: string, like?: string): number | undefined {
    const ends = this.#endsOf(kind, like);
    return ends && Math.round(Math.min(...ends));
  }

  /** The latest of the ends the first look of `kind` is learned from (see learned); undefined likewise. */
  latest(kind: string, like?: string): number | undefined {
    const ends = this.#endsOf(kind, like);
    return ends && Math.round(Math.max(...ends));
  }

  #endsOf(kind: string, like?: string): number[] | undefined {
    return this.#ends.get(kind) ?? (like === undefined ? undefined : this.#ends.get(like));
  }

  /**
   * A wait of `kind` whose first look came `firstDelayMs` after it began was seen over `endedMs` after
   * it began; its last look that still saw it unfinished came `lastUnfinishedMs` after it began
   * (undefined: the first look saw it over).
   */
  record(kind: string, firstDelayMs: number, lastUnfinishedMs: number | undefined, endedMs: number): void {
    const end = lastUnfinishedMs === undefined ? firstDelayMs * 0.95 : (lastUnfinishedMs + endedMs) / 2;
    const ends = this.#ends.get(kind) ?? [];
    ends.push(end);
    if (ends.length > REMEMBERED) ends.shift();
    this.#ends.set(kind, ends);
  }

  /**
   * The first look of a wait of a costly kind (see PollOptions.learned), for as long as nothing else
   * is known of it when it is taken: `safe`, the first look the waits of late found over, for most
   * waits; for a few, an earlier try (see CostlyLooks). Undefined while no wait of the kind, nor of
   * `like`, has ended after missing a look.
   */
  costlyPlan(kind: string, like?: string): CostlyPlan | undefined {
    const own = this.#costly.get(kind);
    if (!own) return like === undefined || !this.#costly.has(like) ? undefined : { kind: like };
    const step = stepOf(own.safeMs);
    const gap = own.tooSoonMs === undefined ? 0 : own.safeMs - own.tooSoonMs;
    // Far apart: a few tries at once, evenly between, at least a step apart; close: one now and then.
    const tries = Math.max(1, Math.min(TRIES_AT_ONCE, Math.floor(gap / step) - 1));
    if (tries > 1 || own.untilTry <= 0) {
      const spacing = Math.max(step, gap / (tries + 1));
      for (let j = 1; j <= tries; j++) {
        const tryMs = Math.max(0, Math.round(own.safeMs - spacing * j));
        if ([...own.trying].some((ms) => Math.abs(ms - tryMs) < spacing / 2)) continue;
        own.trying.add(tryMs);
        return { kind, tryMs };
      }
    }
    own.untilTry--;
    return { kind };
  }

  /** When the next look of a wait planned by `plan` is due, from its beginning, as now known. */
  costlyDue(plan: CostlyPlan | undefined, kind: string, like?: string): number {
    const state = this.#costly.get(plan?.kind ?? kind) ?? (like === undefined ? undefined : this.#costly.get(like));
    if (!state) return 0;
    // A try stands while it is before safe and after every look found too soon.
    if (plan?.tryMs !== undefined && (state.tooSoonMs === undefined || state.tooSoonMs < plan.tryMs)) {
      return Math.min(plan.tryMs, state.safeMs);
    }
    return state.safeMs;
  }

  /**
   * A costly wait ended: over at `endedMs` from its beginning, its last look that saw it unfinished
   * at `lastUnfinishedMs` (undefined: its first look, at `firstLookMs`, saw it over); the longest of
   * its looks that saw it unfinished took `missLookMs` (what a look too soon costs).
   */
  costlyRecord(
    kinds: string[],
    plan: CostlyPlan | undefined,
    firstLookMs: number,
    lastUnfinishedMs: number | undefined,
    endedMs: number,
    missLookMs?: number,
  ): void {
    for (const kind of kinds) {
      const state = this.#costly.get(kind);
      if (state && missLookMs !== undefined) state.missCostMs = missLookMs;
      const trying = plan?.tryMs !== undefined && plan.kind === kind;
      if (!state) {
        // Nothing learned yet: over by its end, not before its last miss. A wait over at once (a guest
        // resumed from saved RAM, say) tells nothing about one that has to boot.
        if (lastUnfinishedMs !== undefined) {
          this.#costly.set(kind, {
            safeMs: endedMs,
            tooSoonMs: lastUnfinishedMs,
            trying: new Set(),
            every: TRY_EVERY,
            untilTry: 0,
            missCostMs: missLookMs ?? 0,
          });
        }
        continue;
      }
      if (trying) state.trying.delete(plan.tryMs!);
      if (lastUnfinishedMs === undefined) {
        if (trying && firstLookMs < state.safeMs) {
          // The try found it over: the waits look that early from now on (those asleep too), and try
          // again soon.
          state.safeMs = firstLookMs;
          if (state.tooSoonMs !== undefined && state.tooSoonMs >= firstLookMs) state.tooSoonMs = undefined;
          state.every = TRY_EVERY;
          for (const wake of [...(this.#sleepers.get(kind) ?? [])]) wake();
        }
      } else {
        state.tooSoonMs = Math.max(state.tooSoonMs ?? 0, lastUnfinishedMs);
        if (trying && state.safeMs - state.tooSoonMs <= 2 * stepOf(state.safeMs)) {
          // Too soon, and close: the next try comes after twice as many waits.
          state.every = Math.min(TRY_EVERY_MAX, state.every * 2);
        } else if (trying) {
          // Too soon, still far: tries go on between.
        } else if (lastUnfinishedMs >= state.safeMs - stepOf(state.safeMs)) {
          // A wait that looked when the others do found it unfinished: they look four steps later (a
          // try moves them a step or more earlier: so they settle where few such waits miss).
          state.safeMs = Math.min(endedMs, lastUnfinishedMs + RAISE_STEPS * stepOf(state.safeMs));
        }
      }
      if (trying) {
        // One try now and then (once safe and too soon are close) may gain its step on each wait until
        // the next and costs a look too soon when it misses: tried no more often than that pays.
        const gain = Math.max(stepOf(state.safeMs), state.safeMs - plan.tryMs!);
        state.untilTry = Math.ceil(Math.max(TRY_EVERY, state.missCostMs / gain) * (state.every / TRY_EVERY));
      }
    }
  }

  /**
   * Sleeps `ms`, or until a try of `kind` moved its first look earlier (the caller then reckons when
   * its look is due again); rejects with the signal's reason as soon as it fires.
   */
  costlySleep(kind: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const sleepers = this.#sleepers.get(kind) ?? new Set<() => void>();
    this.#sleepers.set(kind, sleepers);
    return new Promise((resolve, reject) => {
      const end = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        unwatch?.();
      };
      const wake = () => {
        end();
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
      const unwatch =
        signal &&
        onAbort(signal, () => {
          end();
          reject(signal.reason);
        });
    });
  }

  /** A wait that took a try ended without an answer (failed, aborted): another may try. */
  costlyAbandon(plan: CostlyPlan | undefined): void {
    if (plan?.tryMs !== undefined) this.#costly.get(plan.kind)?.trying.delete(plan.tryMs);
  }
}

/** A costly wait's plan: the kind it learned from and, for a wait that tries an earlier look, its time. */
export interface CostlyPlan {
  kind: string;
  tryMs?: number;
}

/**
 * What the waits of a costly kind learned, for looks that come just after a wait's end rather than
 * just before it. Every wait looks first at `safeMs`, the earliest first look found over lately —
 * waits asleep until then are woken when it moves earlier, and a wait planned at a time since found
 * too soon looks later — except a few that try earlier ones: while `tooSoonMs`, the latest look found
 * too soon, is far below safe, up to TRIES_AT_ONCE waits at once, evenly between the two; once they
 * are close, one wait a step (a fortieth) before safe, after as many waits as a look too soon costs
 * steps (about 15 for the agent's 3 s ping), and twice as many after each try found too soon (up to
 * TRY_EVERY_MAX / TRY_EVERY times), since it gains at most a step on each wait until the next. A try
 * found over becomes safe; a wait that looked at safe and found it unfinished moves safe four steps
 * later, so safe settles where such waits are rare however much the waits' ends scatter.
 *
 * The soonest of the last ends (FirstLooks.learned) moved every wait's first look earlier by each one
 * found over, until dozens running side by side looked too soon before the first of them told: in the
 * 300-VM class bench 89-92 of 300 guest-agent waits paid the 3 s ping, the last ones of a class among
 * them; with this, 13 (the first round on a node, with nothing learned yet, and a few tries).
 */
interface CostlyLooks {
  safeMs: number;
  tooSoonMs: number | undefined;
  /** The tries under way, by their first look. */
  trying: Set<number>;
  /** Waits at safe between tries once safe and too soon are close: TRY_EVERY, doubled by a try too soon. */
  every: number;
  untilTry: number;
  /** How long a look too soon took lately (the agent's ping: about 3 s). */
  missCostMs: number;
}

/** Tries under way at once while safe and too soon are far apart. */
const TRIES_AT_ONCE = 3;
/** Steps safe moves later when a wait that looked then found it unfinished. */
const RAISE_STEPS = 4;
/** Fewest waits at safe between tries once safe and too soon are close, doubled by each try too soon. */
const TRY_EVERY = 2;
const TRY_EVERY_MAX = 64;
/** A fortieth of the first look (200 ms at 8 s), 20 ms at least. */
const stepOf = (ms: number) => Math.max(20, Math.round(ms / 40));

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
   * not yet running answers only after a ping of about 3 s): their looks come just after the learned
   * end rather than just before it (see CostlyLooks). `since` (costly waits only; ms since the epoch):
   * when what is awaited was set going, if before the wait began (a guest's start request): its looks
   * are timed, and the kind learns, from then rather than from the wait's beginning, which comes
   * after however long the caller took to see the start done.
   */
  learned?: { looks: FirstLooks; kind: string; like?: string; costlyMiss?: boolean; since?: number };
}

/**
 * After a learned first look that found the wait not over yet, the next looks come at a fortieth of
 * that first look (50 ms at least, the policy's first interval at most), at that step for as long as
 * they fall within the span the last waits of the kind ended in (up to the latest of the ends the
 * first look is learned from, a quarter past that first look at most), growing as usual past it: the
 * end is likely near, and each look later than it is time a caller may be holding a node's slot for
 * nothing. (The class bench: clone tasks seen 440 ms after their end on average, resizes 160 ms,
 * starts 130 ms, when the next look came the full first interval of 300 ms after a miss; with a
 * twentieth growing by half at once, a clone's first look 5 % before the soonest end and its looks
 * after it 114, 171, 257 ms apart, clones were seen 90-200 ms after their end and held a node slot
 * 2.50 s on average against 2.38 s of task; with a fortieth kept steady, 2.44 s.)
 */
const FOLLOW_UP_SHARE = 40;
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
  if (learned?.costlyMiss) return pollCostly(check, options, learned);
  const learnedMs = learned?.looks.learned(learned.kind, learned.like);
  // How far the looks keep their step: the latest of the learned ends, a quarter past the first look at most.
  const latestMs = learned?.looks.latest(learned.kind, learned.like);
  const steadyUntilMs =
    learnedMs === undefined || latestMs === undefined ? undefined : Math.min(latestMs, learnedMs * 1.25);
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
        const { looks, kind, like } = learned;
        looks.record(kind, firstDelayMs, lastUnfinishedMs, lookedAt - began);
        if (like) looks.record(like, firstDelayMs, lastUnfinishedMs, lookedAt - began);
      }
      return value;
    }
    lastUnfinishedMs = lookedAt - began;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new DeadlineExceededError(`${options.what} did not happen within ${options.deadlineMs} ms`);
    }
    await pause(Math.min(interval, remaining), options.signal);
    // Within the span the last waits of its kind ended in, the looks keep their step.
    if (steadyUntilMs === undefined || Date.now() - began > steadyUntilMs) {
      interval = Math.min(options.polling.maxMs, Math.ceil(interval * 1.5));
    }
  }
}

/**
 * pollUntil for a costly kind (see CostlyLooks): each look waits until the kind's learned time for
 * it, as known when the look is due rather than when the wait began (a wait planned 8 s ago at a time
 * found too soon since looks a step later).
 */
async function pollCostly<T>(
  check: () => Promise<T | undefined>,
  options: PollOptions,
  learned: NonNullable<PollOptions['learned']>,
): Promise<T> {
  const deadline = Date.now() + options.deadlineMs;
  const { looks, kind, like } = learned;
  const began = Math.min(learned.since ?? Date.now(), Date.now());
  const plan = looks.costlyPlan(kind, like);
  let interval = options.polling.initialMs;
  let firstLookMs: number | undefined;
  let lastUnfinishedMs: number | undefined;
  let missLookMs: number | undefined;
  let answered = false;
  try {
    if (!plan && options.firstDelayMs) await pause(Math.min(options.firstDelayMs, options.deadlineMs), options.signal);
    for (;;) {
      // Not before the learned time, while no look of this wait has found it unfinished past it.
      for (;;) {
        const due = began + looks.costlyDue(plan, kind, like);
        const now = Date.now();
        if (due <= now || (lastUnfinishedMs !== undefined && began + lastUnfinishedMs >= due - 1)) break;
        await looks.costlySleep(plan?.kind ?? kind, Math.min(due, deadline) - now, options.signal);
        if (Date.now() >= deadline) break;
      }
      options.signal?.throwIfAborted();
      const lookedAt = Date.now();
      firstLookMs ??= lookedAt - began;
      const value = await check();
      if (value !== undefined) {
        answered = true;
        looks.costlyRecord(
          like ? [kind, like] : [kind],
          plan,
          firstLookMs,
          lastUnfinishedMs,
          lookedAt - began,
          missLookMs,
        );
        return value;
      }
      lastUnfinishedMs = lookedAt - began;
      missLookMs = Math.max(missLookMs ?? 0, Date.now() - lookedAt);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DeadlineExceededError(`${options.what} did not happen within ${options.deadlineMs} ms`);
      }
      // The interval counts from the look's beginning: a look too soon already took its time (the
      // agent's ping, 3 s).
      const rest = lookedAt + interval - Date.now();
      if (rest > 0) await pause(Math.min(rest, remaining), options.signal);
      interval = Math.min(options.polling.maxMs, Math.ceil(interval * 1.5));
    }
  } finally {
    if (!answered) looks.costlyAbandon(plan);
  }
}
