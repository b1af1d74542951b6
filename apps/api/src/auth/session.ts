/**
 * Browser sessions: an API key is exchanged once (POST /api/v1/session) for a cookie, so the web UI
 * never keeps the key itself. The cookie is HttpOnly and SameSite=Strict (Secure under TLS) and holds
 * only a signed `{key id, expiry, nonce}`: nothing in it authenticates anywhere else, and a forged or
 * altered one fails the HMAC. Logout puts the nonce on a deny-list in Redis until the expiry, and
 * every request resolves the key id again, so revoking the key ends its sessions at once. Redis can
 * only end sessions, never make one.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Producer } from '@glassdome/queue';
import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'gd_session';

/** What a valid cookie says. */
export interface SessionClaims {
  keyId: string;
  /** Seconds since the epoch after which the cookie is refused. */
  expiresAt: number;
  /** Identifies this session on the logout deny-list. */
  nonce: string;
}

export interface SessionOptions {
  /** Key the cookie is signed with; derived from GLASSDOME_SECRET_KEY, or random per process without it. */
  signingKey: Buffer;
  /** How long a session lasts from sign-in. */
  lifetimeSeconds: number;
  redis: Producer['connection'];
  /** Queue prefix; the deny-list keys sit under it (`{prefix}:web-session:revoked:<nonce>`). */
  prefix: string;
}

/**
 * The HMAC key for session cookies. With GLASSDOME_SECRET_KEY every API replica derives the same key
 * (so a session works on any replica and survives a restart); without it each process picks a random
 * one and sessions end with the process.
 */
export function sessionSigningKey(secretKey: string | undefined): Buffer {
  if (!secretKey) return randomBytes(32);
  return Buffer.from(hkdfSync('sha256', secretKey, 'glassdome', 'web-session-cookie', 32));
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

export function encodeSession(key: Buffer, claims: SessionClaims): string {
  const payload = Buffer.from(JSON.stringify([claims.keyId, claims.expiresAt, claims.nonce])).toString('base64url');
  return `${payload}.${sign(key, payload)}`;
}

/** The claims of a well-signed, unexpired cookie value; undefined otherwise (whatever is wrong with it). */
export function decodeSession(key: Buffer, value: string, nowSeconds = Date.now() / 1000): SessionClaims | undefined {
  const match = /^([A-Za-z0-9_-]{10,400})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!match) return undefined;
  const expected = Buffer.from(sign(key, match[1]!));
  const given = Buffer.from(match[2]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const [keyId, expiresAt, nonce] = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8')) as unknown[];
    if (typeof keyId !== 'string' || typeof expiresAt !== 'number' || typeof nonce !== 'string') return undefined;
    if (expiresAt <= nowSeconds) return undefined;
    return { keyId, expiresAt, nonce };
  } catch {
    return undefined;
  }
}

/** The session cookie's value from a Cookie header, if there is one. */
export function sessionCookieOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE) return rest.join('=');
  }
  return undefined;
}

/**
 * Express's `trust proxy` value for API_TRUST_PROXY: a hop count, or addresses, CIDRs and the names
 * `loopback`, `linklocal`, `uniquelocal`. The API listens on plain HTTP; TLS ends at a proxy in front
 * of it, and only a proxy named here may say (X-Forwarded-Proto: https) that the browser used TLS.
 */
export function trustProxySetting(value: string): number | string[] {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  return trimmed
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/**
 * Whether the browser reached us over TLS: directly, or through a proxy API_TRUST_PROXY names that
 * says so; a proxy nobody named cannot make it true (nor false) with a header.
 */
function overTls(req: Request): boolean {
  return req.secure;
}

export function setSessionCookie(req: Request, res: Response, value: string, maxAgeSeconds: number): void {
  const attributes = [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
  ];
  if (overTls(req)) attributes.push('Secure');
  res.append('Set-Cookie', attributes.join('; '));
}

export function clearSessionCookie(req: Request, res: Response): void {
  setSessionCookie(req, res, '', 0);
}

export class SessionStore {
  constructor(private readonly options: SessionOptions) {}

  get lifetimeSeconds(): number {
    return this.options.lifetimeSeconds;
  }

  /** A new session for the key: the cookie value and when it expires. */
  issue(keyId: string): { cookie: string; claims: SessionClaims } {
    const claims = {
      keyId,
      expiresAt: Math.floor(Date.now() / 1000) + this.options.lifetimeSeconds,
      nonce: randomBytes(16).toString('base64url'),
    };
    return { cookie: encodeSession(this.options.signingKey, claims), claims };
  }

  /**
   * The claims of a cookie that is well signed, unexpired and not logged out. Throws when Redis
   * cannot say whether it was logged out: a session is refused rather than trusted blindly.
   */
  async verify(value: string): Promise<SessionClaims | undefined> {
    const claims = decodeSession(this.options.signingKey, value);
    if (!claims) return undefined;
    return (await this.isRevoked(claims)) ? undefined : claims;
  }

  /** Whether the session was signed out (on any replica). */
  async isRevoked(claims: SessionClaims): Promise<boolean> {
    return (await this.options.redis.exists(this.revokedKey(claims.nonce))) > 0;
  }

  /** Ends the session everywhere until it would have expired anyway. */
  async revoke(claims: SessionClaims): Promise<void> {
    const ttl = Math.max(1, Math.ceil(claims.expiresAt - Date.now() / 1000));
    await this.options.redis.set(this.revokedKey(claims.nonce), '1', 'EX', ttl);
  }

  private revokedKey(nonce: string): string {
    return `${this.options.prefix}:web-session:revoked:${nonce}`;
  }
}
