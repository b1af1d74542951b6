/**
 * Admission control for work that contends inside Proxmox. Full clones from one storage serialise on its
 * storage lock, held 10 s at most by each waiter before `got timeout`; a node runs only ~3 API handlers
 * at once. Redis semaphores shared by every worker on every machine keep the load below both.
 */
import type { Logger } from '@glassdome/logger';
import type { Cluster, Redis } from 'ioredis';
import { Semaphore, TimeoutError } from 'redis-semaphore';
import { AdmissionTimeoutError } from './errors';

export interface AdmissionLimits {
  /**
   * Full clones running at once against one (node, storage).
   * @defaultValue 2
   */
  fullClonesPerStorage: number;
  /**
   * Admitted operations (clones included) running at once on one node.
   * @defaultValue 8
   */
  operationsPerNode: number;
  /**
   * How long a caller may wait for a slot before AdmissionTimeoutError.
   * @defaultValue 600000
   */
  acquireTimeoutMs: number;
  /**
   * A slot's lifetime in Redis; refreshed while held, so only a dead holder's slot lapses.
   * @defaultValue 30000
   */
  slotTtlMs: number;
  /**
   * Pause between tries of a busy slot.
   * @defaultValue 100
   */
  retryIntervalMs: number;
}

export const defaultAdmissionLimits: AdmissionLimits = {
  fullClonesPerStorage: 2,
  operationsPerNode: 8,
  acquireTimeoutMs: 600_000,
  slotTtlMs: 30_000,
  retryIntervalMs: 100,
};

export interface CloneSlotRequest {
  node: string;
  /** Storage the clone writes to. */
  storage: string;
  /** Only full clones take a storage slot; linked ones are short and take only the node slot. */
  full: boolean;
}

export interface AdmissionOptions {
  /** A server, a Sentinel-watched master or a cluster connection (the semaphores' keys share one slot). */
  redis: Redis | Cluster;
  /** Key prefix, a Redis Cluster hash tag such as `{glassdome}` (the queue prefix). */
  prefix: string;
  limits?: Partial<AdmissionLimits>;
  logger?: Logger;
}

export class Admission {
  readonly limits: AdmissionLimits;
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;

  constructor(options: AdmissionOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#logger = options.logger;
    this.limits = { ...defaultAdmissionLimits, ...options.limits };
  }

  /**
   * Runs `work` holding a node slot and, for a full clone, a slot of its (node, storage). A `signal`
   * that fires while waiting for a slot ends the wait with its reason.
   */
  async withCloneSlot<T>(request: CloneSlotRequest, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!request.full) return this.withNodeSlot(request.node, work, signal);
    // Storage before node, always in this order, so two callers never hold one each of the other's.
    const key = `${this.#prefix}:pve:clone:${request.node}:${request.storage}`;
    return this.#withSemaphore(
      key,
      this.limits.fullClonesPerStorage,
      () => this.withNodeSlot(request.node, work, signal),
      signal,
    );
  }

  /** Runs `work` holding one of the node's operation slots (a `signal` ends the wait for it). */
  withNodeSlot<T>(node: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.#withSemaphore(`${this.#prefix}:pve:node:${node}`, this.limits.operationsPerNode, work, signal);
  }

  async #withSemaphore<T>(key: string, limit: number, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const semaphore = new Semaphore(this.#redis, key, limit, {
      lockTimeout: this.limits.slotTtlMs,
      // A third of the TTL (the library's default is 80 %) leaves room for two late refreshes.
      refreshInterval: Math.max(1, Math.round(this.limits.slotTtlMs / 3)),
      acquireTimeout: this.limits.acquireTimeoutMs,
      retryInterval: this.limits.retryIntervalMs,
      // The library's default throws from a timer, which would crash the process.
      onLockLost: (error) => this.#logger?.warn({ key, err: error.message }, 'admission slot lost while held'),
    });
    try {
      signal?.throwIfAborted();
      await semaphore.acquire(signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof TimeoutError) {
        throw new AdmissionTimeoutError(`no slot of ${key} (limit ${limit}) within ${this.limits.acquireTimeoutMs} ms`);
      }
      throw error;
    }
    try {
      signal?.throwIfAborted();
      return await work();
    } finally {
      await semaphore.release().catch((error: Error) => {
        this.#logger?.warn({ key, err: error.message }, 'admission slot release failed; it lapses with its TTL');
      });
    }
  }
}
