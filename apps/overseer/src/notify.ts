/** Alert changes fan out to every configured webhook URL as retried `alert.webhook` jobs. */
import type { OverseerContext } from './context';

export type AlertChangeEvent = 'opened' | 'resolved' | 'acknowledged';

export async function notifyWebhooks(
  ctx: OverseerContext,
  changes: readonly { alertId: string; event: AlertChangeEvent }[],
): Promise<void> {
  const urls = ctx.settings.webhookUrls;
  await Promise.all(
    changes.flatMap(({ alertId, event }) =>
      urls.map((url, index) =>
        ctx.producer.enqueue(
          'alert.webhook',
          { alertId, url, event },
          { jobId: `webhook.${alertId}.${event}.${index}` },
        ),
      ),
    ),
  );
}
