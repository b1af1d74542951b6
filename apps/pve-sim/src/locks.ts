import { LockTimeoutError } from './errors';

type Mode = 'shared' | 'exclusive';

interface Waiter {
  mode: Mode;
  grant: () => void;
}

interface LockState {
  exclusive: boolean;
  shared: number;
  waiters: Waiter[];
}

/**
 * Emulates the flock(2) files PVE serialises on (`/var/lock/qemu-server/lock-<vmid>.conf`,
 * `/var/lock/pve-manager/pve-storage-<id>`): shared or exclusive, given up after a timeout with
 * PVE's own `can't lock file … - got timeout`.
 */
export class LockTable {
  private readonly locks = new Map<string, LockState>();

  /** Waits up to `timeoutMs` for the lock; resolves with its release function. */
  acquire(path: string, mode: Mode, timeoutMs: number): Promise<() => void> {
    const state = this.stateOf(path);
    if (state.waiters.length === 0 && this.compatible(state, mode))
      return Promise.resolve(this.take(path, state, mode));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        mode,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(path, state, mode));
        },
      };
      const timer = setTimeout(() => {
        state.waiters.splice(state.waiters.indexOf(waiter), 1);
        this.forgetIfIdle(path, state);
        reject(new LockTimeoutError(path));
      }, timeoutMs);
      state.waiters.push(waiter);
    });
  }

  /** Whether anyone holds the lock now. */
  isHeld(path: string): boolean {
    const state = this.locks.get(path);
    return state !== undefined && (state.exclusive || state.shared > 0);
  }

  private stateOf(path: string): LockState {
    let state = this.locks.get(path);
    if (!state) {
      state = { exclusive: false, shared: 0, waiters: [] };
      this.locks.set(path, state);
    }
    return state;
  }

  private compatible(state: LockState, mode: Mode): boolean {
    return mode === 'shared' ? !state.exclusive : !state.exclusive && state.shared === 0;
  }

  private take(path: string, state: LockState, mode: Mode): () => void {
    if (mode === 'shared') state.shared++;
    else state.exclusive = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (mode === 'shared') state.shared--;
      else state.exclusive = false;
      this.wake(state);
      this.forgetIfIdle(path, state);
    };
  }

  /** Grants waiters in arrival order for as long as they fit. */
  private wake(state: LockState): void {
    while (state.waiters.length > 0 && this.compatible(state, state.waiters[0]!.mode)) {
      state.waiters.shift()!.grant();
    }
  }

  private forgetIfIdle(path: string, state: LockState): void {
    if (!state.exclusive && state.shared === 0 && state.waiters.length === 0) this.locks.delete(path);
  }
}

/** Path of a VM's config flock. */
export const vmLockPath = (vmid: number | string) => `/var/lock/qemu-server/lock-${vmid}.conf`;
/** Path of a local storage's flock. */
export const storageLockPath = (storage: string) => `/var/lock/pve-manager/pve-storage-${storage}`;

/** Runs `fn` while holding a lock. */
export async function withLock<T>(
  locks: LockTable,
  path: string,
  mode: Mode,
  timeoutMs: number,
  fn: () => Promise<T> | T,
): Promise<T> {
  const release = await locks.acquire(path, mode, timeoutMs);
  try {
    return await fn();
  } finally {
    release();
  }
}
