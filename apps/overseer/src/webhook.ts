/**
 * The `alert.webhook` job: POSTs an alert change as JSON. With a secret configured, the body is signed:
 * `X-Glassdome-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` plus `X-Glassdome-Timestamp`,
 * so a receiver can check both origin and freshness. Failures are retried by the queue (backoff from
 * the job catalog); a 4xx other than 408/429, a redirect (never followed) and a refused address will
 * not get better and fail the job at once.
 *
 * Targets are sealed in Postgres (the credentials table, GLASSDOME_SECRET_KEY) under an id derived
 * from the URL, and jobs carry only that id: a URL with a secret in its path never sits in Redis.
 */
import { createHmac } from 'node:crypto';
import { CredentialStore, type Db, getAlert } from '@glassdome/db';
import { type JobPayload, PermanentError } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { OverseerContext } from './context';
import { type OutboundPolicy, OutboundRefusedError, postOutbound } from './outbound';

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

const KIND_PREFIX = 'webhook:';

/** The configured webhook targets: ids for jobs, URLs opened from their sealed rows when delivering. */
export class WebhookTargets {
  private constructor(
    private readonly credentials: CredentialStore,
    readonly ids: readonly string[],
    readonly policy: OutboundPolicy,
  ) {}

  /**
   * Seals each URL (once: every replica derives the same id from the same URL and key) and returns
   * the targets. The id is an HMAC of the URL, so it says nothing of the URL without the key.
   */
  static async register(db: Db, secretKey: Buffer, urls: readonly string[], policy: OutboundPolicy) {
    const credentials = new CredentialStore(db, secretKey);
    const ids: string[] = [];
    for (const url of urls) {
      const id = createHmac('sha256', secretKey).update(`webhook-target\0${url}`).digest('hex').slice(0, 24);
      await credentials.readOrCreate(DEFAULT_PLATFORM, `${KIND_PREFIX}${id}`, () => url);
      ids.push(id);
    }
    return new WebhookTargets(credentials, ids, policy);
  }

  /** The target's URL, unsealed; undefined when no target has that id. */
  url(id: string): Promise<string | undefined> {
    return this.credentials.read(DEFAULT_PLATFORM, `${KIND_PREFIX}${id}`);
  }
}

export async function deliverWebhook(
  ctx: OverseerContext,
  payload: JobPayload<'alert.webhook'>,
  signal: AbortSignal,
): Promise<{ status: number }> {
  const targets = ctx.webhooks;
  if (!targets) throw new PermanentError('no webhook targets are configured on this overseer');
  const url = await targets.url(payload.webhookId);
  if (!url) throw new PermanentError(`webhook target ${payload.webhookId} is not registered`);
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
      project: alert.project,
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
  const host = new URL(url).host;
  let status: number;
  try {
    ({ status } = await postOutbound(url, body, headers, targets.policy, { signal, timeoutMs: 10_000 }));
  } catch (error) {
    if (error instanceof OutboundRefusedError)
      throw new PermanentError(`webhook ${payload.webhookId}: ${error.message}`);
    throw error;
  }
  if (status >= 200 && status < 300) return { status };
  if (status >= 300 && status < 400) {
    throw new PermanentError(`webhook at ${host} answered a redirect (${status}); redirects are not followed`);
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    throw new PermanentError(new WebhookDeliveryError(status, host).message);
  }
  throw new WebhookDeliveryError(status, host);
}
