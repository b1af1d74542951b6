import { appendEvent } from '@glassdome/db';
import { PermissionError } from '@glassdome/proxmox';
import { PermanentError, repairProblems, waitForJobEnd } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { InstallerContext } from '../context';

/** Repairs of one path and privilege within this window share one job (the gateway skips held privileges anyway). */
const REPAIR_WINDOW_MS = 10 * 60_000;

/**
 * Runs `operation`; when Proxmox says the token lacks a privilege, asks the gateway to grant exactly
 * that privilege on exactly that path (a `permission.grant` job), waits for the grant, and tries
 * once more. Least privilege: never a blanket role, never on `/`, and only what the repair allowlist
 * holds (the gateway further requires the path to be a template Glassdome registered or a VM it owns).
 */
export async function withPermissionRepair<T>(
  ctx: InstallerContext,
  refs: { vmId: string; labId?: string | null },
  operation: () => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (!(error instanceof PermissionError) || !error.path || !error.privilege) throw error;
    const privileges = error.privilege.split('|').slice(0, 1);
    const reason = `Proxmox refused ${privileges[0]} on ${error.path}`;
    const grant = { principal: ctx.env.PROXMOX_TOKEN_ID, path: error.path, privileges };
    const refused = repairProblems(grant);
    if (refused.length > 0) {
      throw new PermanentError(`${reason}; Glassdome does not repair that (${refused.join('; ')}): grant it by hand`);
    }
    await appendEvent(ctx.db, {
      vmId: refs.vmId,
      labId: refs.labId ?? null,
      kind: 'permission.missing',
      message: `${reason}; asking the gateway to grant it`,
      data: { path: error.path, privileges },
    });
    const job = await ctx.producer.enqueue(
      'permission.grant',
      {
        platformId: DEFAULT_PLATFORM,
        principal: ctx.env.PROXMOX_TOKEN_ID,
        path: error.path,
        privileges,
        reason,
        vmId: refs.vmId,
        ...(refs.labId ? { labId: refs.labId } : {}),
      },
      {
        jobId: `grant.${error.path.replaceAll('/', '_')}.${privileges[0]}.${Math.floor(Date.now() / REPAIR_WINDOW_MS)}`,
      },
    );
    await waitForGrant(ctx, job.id!, signal);
    return operation();
  }
}

/** Waits for the gateway's grant; a failed job failed for good (attempts spent, or the grant refused). */
async function waitForGrant(ctx: InstallerContext, jobId: string, signal: AbortSignal): Promise<void> {
  const end = await waitForJobEnd(ctx.producer.queues.permission, jobId, { signal });
  if (end?.state === 'failed') throw new PermanentError(`permission grant failed: ${end.reason}`);
}
