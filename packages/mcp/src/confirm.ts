/**
 * Confirmation tokens for acting tools. A first call returns the plan and a token; only a second
 * call presenting that token acts. The token is `<expiry>.<plan digest>.<nonce>.<mac>`, the MAC an
 * HMAC-SHA256, under a secret made per process, over the key id, expiry, nonce and the digest of the
 * canonical plan. So a token is refused when it was made for another key, has expired, was altered
 * or guessed, or when the plan computed at the second call is not the one it was issued for. Each
 * token acts once.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** JSON with object keys sorted at every depth: the same plan always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value))
    return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

export function planDigest(plan: unknown): string {
  return createHash('sha256').update(canonicalJson(plan)).digest('base64url').slice(0, 22);
}

export type RefusalReason = 'malformed' | 'forged' | 'expired' | 'plan-changed' | 'used';

/** A token that does not allow the action, with why, in words an assistant can relay. */
export class ConfirmationRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'ConfirmationRefused';
  }
}

export interface ConfirmationOptions {
  /** How long a token stays good. @defaultValue 120 s */
  ttlMs?: number;
  /** The HMAC key. @defaultValue 32 random bytes made when the process starts */
  secret?: Buffer;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

export interface IssuedConfirmation {
  token: string;
  expiresAt: string;
}

const TOKEN = /^(\d{10,16})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

export class Confirmations {
  readonly ttlMs: number;
  private readonly secret: Buffer;
  private readonly now: () => number;
  /** Nonces of tokens already used, until they expire anyway. */
  private readonly used = new Map<string, number>();

  constructor(options: ConfirmationOptions = {}) {
    this.ttlMs = options.ttlMs ?? 120_000;
    this.secret = options.secret ?? randomBytes(32);
    this.now = options.now ?? Date.now;
  }

  private mac(keyId: string, expiresAt: number, digest: string, nonce: string): Buffer {
    return createHmac('sha256', this.secret).update(`${keyId}\n${expiresAt}\n${digest}\n${nonce}`).digest();
  }

  issue(plan: unknown, keyId: string): IssuedConfirmation {
    const expiresAt = this.now() + this.ttlMs;
    const digest = planDigest(plan);
    const nonce = randomBytes(12).toString('base64url');
    const mac = this.mac(keyId, expiresAt, digest, nonce).toString('base64url');
    return { token: `${expiresAt}.${digest}.${nonce}.${mac}`, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Accepts the token for this plan and key once; throws ConfirmationRefused otherwise. */
  redeem(token: string, plan: unknown, keyId: string): void {
    const match = TOKEN.exec(token.trim());
    if (!match) throw new ConfirmationRefused('malformed', 'the confirmation token is not one this server issued');
    const [, expiry, digest, nonce, mac] = match as unknown as [string, string, string, string, string];
    const expiresAt = Number(expiry);
    // Compared as text: decoding would accept other spellings of the same bytes (the last of the
    // 43 characters carries two padding bits), so an altered token could still pass.
    const expected = Buffer.from(this.mac(keyId, expiresAt, digest, nonce).toString('base64url'));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ConfirmationRefused(
        'forged',
        'the confirmation token was not issued for this API key by this server (or was altered); ask for a new plan',
      );
    }
    const now = this.now();
    if (now > expiresAt) {
      throw new ConfirmationRefused(
        'expired',
        `the confirmation token expired at ${new Date(expiresAt).toISOString()}; call again without it for a fresh plan`,
      );
    }
    if (digest !== planDigest(plan)) {
      throw new ConfirmationRefused(
        'plan-changed',
        'the plan changed since this token was issued (other arguments, or the lab moved on); review the new plan and confirm it',
      );
    }
    this.forgetExpired(now);
    if (this.used.has(nonce)) throw new ConfirmationRefused('used', 'this confirmation token was already used');
    this.used.set(nonce, expiresAt);
  }

  private forgetExpired(now: number): void {
    for (const [nonce, expiresAt] of this.used) if (expiresAt < now) this.used.delete(nonce);
  }
}
