/**
 * Quotas per project: how many VMs, lab copies, vCPUs and MiB of memory it may hold at once (every
 * lab and VM not destroyed counts), and the longest TTL a lab may ask for. Defaults come from the
 * configuration (QUOTA_*); an admin overrides them per project (PUT /projects/:name/quotas). Checked
 * inside the deploy's transaction, under the project's row lock, so concurrent deploys are counted
 * one after the other.
 */
import { type Db, lockProject, type ProjectQuotaOverrides, projectUsage } from '@glassdome/db';
import { ApiError } from '../errors';

export interface Quotas {
  maxVms: number;
  maxCopies: number;
  maxVcpus: number;
  maxMemoryMiB: number;
  maxLabTtlSeconds: number;
}

export type QuotaName = keyof Quotas;

/** The configured defaults when none are given (QUOTA_* variables' defaults). */
export const DEFAULT_QUOTAS: Quotas = {
  maxVms: 1000,
  maxCopies: 200,
  maxVcpus: 4000,
  maxMemoryMiB: 8 * 1024 * 1024,
  maxLabTtlSeconds: 30 * 24 * 3600,
};

/** A request over a quota: 409 for what the project holds, 422 for what one request may ask (TTL). */
export class QuotaExceededError extends ApiError {
  constructor(
    readonly quota: QuotaName,
    project: string,
    details: { limit: number; inUse?: number; requested: number },
  ) {
    const status = quota === 'maxLabTtlSeconds' ? 422 : 409;
    const message =
      quota === 'maxLabTtlSeconds'
        ? `quota ${quota} of project ${project}: a lab may live at most ${details.limit} s; this one asks ${details.requested} s`
        : `quota ${quota} of project ${project}: ${details.inUse} in use + ${details.requested} requested exceeds ${details.limit}`;
    super(status, 'quota_exceeded', message, { quota, project, ...details });
    this.name = 'QuotaExceededError';
  }
}

/** The quotas in force for a project: its overrides over the defaults. */
export function effectiveQuotas(defaults: Quotas, overrides: ProjectQuotaOverrides): Quotas {
  return {
    maxVms: overrides.maxVms ?? defaults.maxVms,
    maxCopies: overrides.maxCopies ?? defaults.maxCopies,
    maxVcpus: overrides.maxVcpus ?? defaults.maxVcpus,
    maxMemoryMiB: overrides.maxMemoryMiB ?? defaults.maxMemoryMiB,
    maxLabTtlSeconds: overrides.maxLabTtlSeconds ?? defaults.maxLabTtlSeconds,
  };
}

export interface QuotaRequest {
  vms: number;
  copies: number;
  vcpus: number;
  memoryMiB: number;
  /** A lab's TTL; standalone VMs have none. */
  ttlSeconds?: number;
}

/**
 * Throws QuotaExceededError naming the first quota the request would exceed. Call inside the
 * transaction that records the request: it takes the project's row lock (creating the project on
 * first use).
 */
export async function checkQuotas(trx: Db, project: string, defaults: Quotas, request: QuotaRequest): Promise<void> {
  const quotas = effectiveQuotas(defaults, await lockProject(trx, project));
  if (request.ttlSeconds !== undefined && request.ttlSeconds > quotas.maxLabTtlSeconds) {
    throw new QuotaExceededError('maxLabTtlSeconds', project, {
      limit: quotas.maxLabTtlSeconds,
      requested: request.ttlSeconds,
    });
  }
  const usage = await projectUsage(trx, project);
  const checks: [QuotaName, number, number][] = [
    ['maxVms', usage.vms, request.vms],
    ['maxCopies', usage.copies, request.copies],
    ['maxVcpus', usage.vcpus, request.vcpus],
    ['maxMemoryMiB', usage.memoryMiB, request.memoryMiB],
  ];
  for (const [quota, inUse, requested] of checks) {
    if (requested > 0 && inUse + requested > quotas[quota]) {
      throw new QuotaExceededError(quota, project, { limit: quotas[quota], inUse, requested });
    }
  }
}
