/** The `overseer.remediate` job: runs one action and records the attempt, with its reason, as an event. */
import { type JobPayload, PermanentError } from '@glassdome/queue';
import type { OverseerContext } from './context';
import { ACTIONS, NothingToDo } from './remediation-actions';
import { recordAttempt } from './remediation-history';

/**
 * Runs the action with every Proxmox call and wait bound to `signal` (the job's). An attempt cut short
 * by the signal (timeout, lost lock, shutdown) is not recorded: it says nothing about the repair.
 */
export async function remediate(
  ctx: OverseerContext,
  payload: JobPayload<'overseer.remediate'>,
  signal?: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  const { action, platformId, reason, ...target } = payload;
  if (!ctx.settings.policy.enabled.has(action)) {
    throw new PermanentError(`remediation ${action} is not enabled`);
  }
  const attempt = { action, platformId, reason, ...target };
  const bound: OverseerContext = signal ? { ...ctx, pve: ctx.pve.withSignal(signal) } : ctx;
  let detail: string;
  try {
    detail = await ACTIONS[action](bound, { ...target, platformId });
  } catch (error) {
    if (signal?.aborted) throw error;
    if (error instanceof NothingToDo) {
      detail = `nothing to do: ${error.message}`;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      await recordAttempt(ctx.db, { ...attempt, ok: false, detail: message });
      ctx.logger.warn({ action, ...target, err: error }, 'remediation failed');
      throw error;
    }
  }
  await recordAttempt(ctx.db, { ...attempt, ok: true, detail });
  ctx.logger.info({ action, ...target, detail }, 'remediation done');
  return { ok: true, detail };
}
