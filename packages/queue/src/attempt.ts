/**
 * One attempt of a job running in this process, and the register of them a worker group aborts
 * from (timeouts, lock loss, shutdown). Kept to what every job pays for: no closures per attempt,
 * and the attempt's logger made only when something logs.
 */
import type { Logger } from '@glassdome/logger';
import type { Job } from 'bullmq';

export interface JobContext {
  job: Job;
  /** Lock token of this attempt (needed for flow operations such as moveToWaitingChildren). */
  token: string | undefined;
  /**
   * Aborted when this attempt must stop: its time bound passed (JobTimeoutError), its lock was lost
   * so another worker may run it (JobLockLostError), or the process is shutting down
   * (WorkerShutdownError). The reason is that error. Every call that waits or has a side effect must
   * honour it; the job settles only once the handler has returned or thrown.
   */
  signal: AbortSignal;
  log: Logger;
  /**
   * Sets this job aside while it waits in line for something outside the process that does no work
   * meanwhile (a node's admission slot): its worker may take one more job until the returned function
   * is called (once, when the wait ends), so that jobs waiting in such lines do not keep ready ones
   * from running. The job stays active and locked as before: a crash hands it back as ever.
   */
  setAside?(): () => void;
}

/** Lends a worker one more job at once for each job set aside (see JobContext.setAside). */
export interface SlotLender {
  lend(): () => void;
}

export class JobTimeoutError extends Error {
  constructor(
    readonly job: string,
    readonly timeoutMs: number,
  ) {
    super(`${job} did not finish within ${timeoutMs} ms`);
    this.name = 'JobTimeoutError';
  }
}

/** This worker no longer holds the job's lock (renewal failed or lapsed): another worker may run it. */
export class JobLockLostError extends Error {
  constructor(
    readonly jobId: string,
    readonly reason: string,
  ) {
    super(`lost the lock of job ${jobId} (${reason}); stopping before the next side effect`);
    this.name = 'JobLockLostError';
  }
}

/** The worker is shutting down; the job is handed back to the queue untouched. */
export class WorkerShutdownError extends Error {
  constructor() {
    super('the worker is shutting down; the job is handed back');
    this.name = 'WorkerShutdownError';
  }
}

/** An attempt: what its handler sees (it is the handler's JobContext) and how the worker stops it. */
export class Attempt implements JobContext {
  /** When this attempt's lock was last renewed. */
  renewedAt = Date.now();
  readonly #controller = new AbortController();
  readonly #root: Logger;
  #log: Logger | undefined;

  readonly #lender: SlotLender | undefined;

  constructor(
    readonly job: Job,
    readonly token: string | undefined,
    root: Logger,
    lender?: SlotLender,
  ) {
    this.#root = root;
    this.#lender = lender;
  }

  setAside(): () => void {
    return this.#lender ? this.#lender.lend() : noop;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Made when first used: most attempts log nothing at the usual levels, and a pino child costs the
   * serialization and redaction of its bindings (most of what a no-op job cost on the worker's side).
   */
  get log(): Logger {
    this.#log ??= this.#root.child({ jobId: this.job.id, job: this.job.name, attempt: this.job.attemptsMade + 1 });
    return this.#log;
  }

  /** Why the attempt was stopped, if it was. */
  get abortReason(): unknown {
    return this.#controller.signal.aborted ? this.#controller.signal.reason : undefined;
  }

  abort(reason: Error): void {
    if (this.#controller.signal.aborted) return;
    this.log.info({ reason: reason.message }, 'aborting the job attempt');
    this.#controller.abort(reason);
  }
}

function noop(): void {}

/** Set as a timer's callback with its arguments (no closure per attempt). */
export function abortOnTimeout(attempt: Attempt, job: string, timeoutMs: number): void {
  attempt.abort(new JobTimeoutError(job, timeoutMs));
}

/** The attempts running in this process, by job id (one worker per queue, job ids unique per queue). */
export class ActiveRuns {
  readonly #runs = new Map<string, Attempt | Set<Attempt>>();

  add(jobId: string, run: Attempt): void {
    const present = this.#runs.get(jobId);
    if (!present) this.#runs.set(jobId, run);
    else if (present instanceof Set) present.add(run);
    else this.#runs.set(jobId, new Set([present, run]));
  }

  delete(jobId: string, run: Attempt): void {
    const present = this.#runs.get(jobId);
    if (present === run) this.#runs.delete(jobId);
    else if (present instanceof Set) {
      present.delete(run);
      if (present.size === 0) this.#runs.delete(jobId);
    }
  }

  abort(jobId: string, reason: () => Error): void {
    for (const run of this.#of(jobId)) run.abort(reason());
  }

  renewed(jobIds: readonly string[], at: number): void {
    for (const id of jobIds) for (const run of this.#of(id)) run.renewedAt = at;
  }

  /** Aborts every run whose lock has not been renewed within `lockMs`: it may already be someone else's. */
  abortStale(lockMs: number, now: number): void {
    for (const jobId of this.#runs.keys()) {
      for (const run of this.#of(jobId)) {
        if (now - run.renewedAt > lockMs) {
          run.abort(new JobLockLostError(jobId, `not renewed for ${now - run.renewedAt} ms`));
        }
      }
    }
  }

  abortAll(reason: () => Error): void {
    for (const jobId of this.#runs.keys()) this.abort(jobId, reason);
  }

  #of(jobId: string): Iterable<Attempt> {
    const present = this.#runs.get(jobId);
    if (!present) return [];
    return present instanceof Set ? [...present] : [present];
  }
}
