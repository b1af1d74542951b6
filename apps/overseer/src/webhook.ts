/**
 * The `alert.webhook` job: POSTs an alert change as JSON. With a secret configured, the body is signed:
 * `X-Glassdome-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` plus `X-Glassdome-Timestamp`,
 * so a receiver can check both origin and freshness. Failures are retried by the queue (backoff from
 * the job catalog); a 4xx other than 408/429 will not get better and fails the job at once.
 */
import { createHmac } from 'node:crypto';
import { getAlert } from '@glassdome/db';
import { type JobPayload, PermanentError } from '@glassdome/queue';
import type { OverseerContext } from './context';

export class WebhookDeliveryError extends Error {
  constructor(
    readonly status: number,
    readonly host: string,
  ) {
    super(`webhook at ${host} answered ${status}`);
    this.name = 'WebhookDeliveryError';
  }
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function deliverWebhook(
  ctx: OverseerContext,
  payload: JobPayload<'alert.webhook'>,
  signal: AbortSignal,
): Promise<{ status: number }> {
  const alert = await getAlert(ctx.db, payload.alertId);
  if (!alert) throw new PermanentError(`alert ${payload.alertId} no longer exists`);
  const body = JSON.stringify({
    event: payload.event,
    alert: {
      id: alert.id,
      kind: alert.kind,
      severity: alert.severity,
      subject: alert.subject,
      message: alert.message,
      state: alert.state,
      firstSeenAt: alert.first_seen_at,
      lastSeenAt: alert.last_seen_at,
      resolvedAt: alert.resolved_at,
      data: alert.data,
    },
  });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'glassdome-overseer',
    'X-Glassdome-Event': `alert.${payload.event}`,
    'X-Glassdome-Timestamp': timestamp,
  };
  const secret = ctx.settings.webhookSecret;
  if (secret) headers['X-Glassdome-Signature'] = signWebhook(secret, timestamp, body);
  const response = await fetch(payload.url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
  });
  await response.body?.cancel();
  if (response.ok) return { status: response.status };
  const host = new URL(payload.url).host;
  if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
    throw new PermanentError(new WebhookDeliveryError(response.status, host).message);
  }
  throw new WebhookDeliveryError(response.status, host);
}
