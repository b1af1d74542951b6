/** Alert changes fan out to every configured webhook target as retried `alert.webhook` jobs carrying the target's id. */
import type { OverseerContext } from './context';

export type AlertChangeEvent = 'opened' | 'resolved' | 'acknowledged';

export async function notifyWebhooks(
  ctx: OverseerContext,
  changes: readonly { alertId: string; event: AlertChangeEvent }[],
): Promise<void> {
  const ids = ctx.webhooks?.ids ?? [];
  await Promise.all(
    changes.flatMap(({ alertId, event }) =>
      ids.map((webhookId) =>
        ctx.producer.enqueue(
          'alert.webhook',
          { alertId, webhookId, event },
          { jobId: `webhook.${alertId}.${event}.${webhookId}` },
        ),
      ),
    ),
  );
}
