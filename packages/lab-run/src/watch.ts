/**
 * "Desired state wins": a deploy keeps asking Postgres whether it is still wanted and stops its own
 * work the moment it is not (a destroy, a cancel, a failed lab, a newer run), instead of finishing a
 * clone nobody wants any more. The answer is polled, so it reaches the job on whichever worker runs it.
 */

import type { Db } from '@glassdome/db';
import { getVm } from '@glassdome/db';

/** The VM is no longer to be deployed: it is being torn down, was settled by its lab, or is gone. */
export class VmStoppedError extends Error {
  constructor(readonly status: string) {
    super(`VM is ${status}`);
    this.name = 'VmStoppedError';
  }
}

/** Statuses in which a VM's deploy may still take a step. */
const DEPLOYABLE = new Set(['queued', 'deploying']);

/** Why the VM must not be deployed further, or undefined while it still is wanted. */
export async function vmStopReason(db: Db, vmId: string): Promise<VmStoppedError | undefined> {
  const vm = await getVm(db, vmId);
  if (!vm) return new VmStoppedError('gone');
  if (vm.desired_state === 'absent') return new VmStoppedError(`${vm.status} (desired absent)`);
  if (!DEPLOYABLE.has(vm.status)) return new VmStoppedError(vm.status);
  return undefined;
}

/** Throws VmStoppedError unless the VM is still wanted: call it before each side effect of a deploy. */
export async function checkVmStillWanted(db: Db, vmId: string): Promise<void> {
  const reason = await vmStopReason(db, vmId);
  if (reason) throw reason;
}

export interface StopWatch {
  /** Aborted (with the stop reason) once a stop is reported, or when the parent signal aborts. */
  signal: AbortSignal;
  /**
   * Runs work that cannot be taken back once submitted (a clone lands whatever we do next): a stop
   * reported meanwhile aborts the signal only after it ended, so what it made is recorded and the
   * tear-down finds it. The parent signal (timeout, shutdown) still aborts at once.
   */
  shield<T>(work: () => Promise<T>): Promise<T>;
  /** Ends the watch: a stop reported after it is ignored (and a polling watch polls no more). */
  stop(): void;
}

/** A watch that is told of a stop (`report`) by whoever learns of it, e.g. a listener on a shared poll. */
export interface ToldStopWatch extends StopWatch {
  /** Aborts the signal with `reason` (after the shielded work, if any is running). */
  report(reason: Error): void;
}

/** A stop watch without a timer of its own: it stops when `report` is called. */
export function toldStopWatch(parent: AbortSignal): ToldStopWatch {
  const controller = new AbortController();
  let shielded = 0;
  let deferred: Error | undefined;
  let ended = false;
  const abort = (reason: Error) => {
    if (controller.signal.aborted) return;
    if (shielded > 0) deferred = reason;
    else controller.abort(reason);
  };
  return {
    signal: AbortSignal.any([parent, controller.signal]),
    async shield(work) {
      shielded++;
      try {
        return await work();
      } finally {
        shielded--;
        if (shielded === 0 && deferred) abort(deferred);
      }
    },
    report: (reason) => {
      if (!ended && !deferred) abort(reason);
    },
    stop: () => {
      ended = true;
    },
  };
}

/**
 * Polls `check` every `intervalMs` and aborts the returned signal with the error it reports. A check
 * that throws (Postgres briefly away) is not a reason to stop: the next poll decides.
 */
export function watchForStop(
  check: () => Promise<Error | undefined>,
  parent: AbortSignal,
  intervalMs = 1_000,
): StopWatch {
  const watch = toldStopWatch(parent);
  let polling = false;
  let reported = false;
  const timer = setInterval(() => {
    if (polling || reported || watch.signal.aborted) return;
    polling = true;
    check()
      .then((reason) => {
        if (!reason) return;
        reported = true;
        watch.report(reason);
      })
      .catch(() => {})
      .finally(() => {
        polling = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    signal: watch.signal,
    shield: watch.shield,
    stop: () => {
      clearInterval(timer);
      watch.stop();
    },
  };
}

/** The stop reason of an aborted watch when it is of the given kind (the work stopped because of it). */
export function stoppedBy<E extends Error>(
  signal: AbortSignal,
  kind: abstract new (...args: never[]) => E,
  error?: unknown,
): E | undefined {
  if (error instanceof kind) return error;
  return signal.aborted && signal.reason instanceof kind ? signal.reason : undefined;
}
