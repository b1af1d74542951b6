/** Limits one lab deployment must stay within, counted over all its copies. */
export interface Quotas {
  /** Most VMs, after `count` and `copies`. @defaultValue 200 */
  maxVms: number;
  /** Most vCPUs in total. @defaultValue 400 */
  maxCpus: number;
  /** Most memory in total, in MiB. @defaultValue 819200 (800 GiB) */
  maxMemoryMiB: number;
  /** Most copies. @defaultValue 30 */
  maxCopies: number;
  /** Longest ttl, in seconds. @defaultValue 604800 (7 days) */
  maxTtlSeconds: number;
}

export const DEFAULT_QUOTAS: Readonly<Quotas> = {
  maxVms: 200,
  maxCpus: 400,
  maxMemoryMiB: 819200,
  maxCopies: 30,
  maxTtlSeconds: 7 * 86400,
};

/** The defaults overlaid with whatever `partial` sets (undefined fields keep their default). */
export function resolveQuotas(partial: Partial<Quotas> = {}): Quotas {
  const quotas = { ...DEFAULT_QUOTAS };
  for (const key of Object.keys(quotas) as (keyof Quotas)[]) {
    const value = partial[key];
    if (value !== undefined) quotas[key] = value;
  }
  return quotas;
}
