import type { RetryPolicy } from './retry';

/** API token credentials (`user@realm!name` and its secret); no CSRF token needed. */
export interface TokenAuth {
  /** `user@realm!tokenname`. */
  tokenId: string;
  /** The token's secret (a UUID); never logged nor put in an error. */
  tokenSecret: string;
}

/** Ticket credentials: the client logs in, renews the ticket hourly and sends the CSRF token on writes. */
export interface TicketAuth {
  /** `user@realm`, e.g. `root@pam`. */
  username: string;
  /** The user's password; never logged nor put in an error. */
  password: string;
}

/**
 * How the server's certificate is trusted. There is no default: "accept anything" must be written out.
 * - `fingerprint`: SHA-256 of the node certificate, as `GET /nodes` shows it (`AB:CD:…`; case and colons free).
 * - `ca`: PEM of the cluster CA (`/etc/pve/pve-root-ca.pem`); the hostname is checked as usual.
 * - `insecure: true`: no verification at all; for throwaway labs only, and logged as a warning.
 */
export type TlsTrust = { fingerprint: string } | { ca: string | Buffer } | { insecure: true };

export interface ProxmoxConfig {
  /** Base URL of the API, e.g. `https://pve.example:8006` (`/api2/json` is appended when missing). */
  baseUrl: string;
  /** Token or ticket credentials. */
  auth: TokenAuth | TicketAuth;
  /** Node that node-scoped calls default to. */
  node: string;
  /** Certificate trust; required for https URLs, ignored for http ones (the simulator without TLS). */
  tls?: TlsTrust;
  /**
   * Per-request timeout; long operations are tasks, so no single call should need more.
   * @defaultValue 30000
   */
  timeoutMs?: number;
  /**
   * Backoff for transient errors.
   * @defaultValue `{ attempts: 4, baseDelayMs: 500, maxDelayMs: 8000 }`
   */
  retry?: Partial<RetryPolicy>;
  /**
   * Idle keep-alive sockets are dropped after this long; below pveproxy's 5 s idle timeout so the
   * client never writes to a socket the server is closing.
   * @defaultValue 4000
   */
  keepAliveIdleMs?: number;
  /**
   * How task status and the guest agent are polled: the first wait, growing by half each time up to the
   * maximum, so a long clone costs a few dozen calls and a short one is seen quickly.
   * @defaultValue `{ initialMs: 300, maxMs: 2000 }`
   */
  polling?: Partial<PollingPolicy>;
}

export interface PollingPolicy {
  /** @defaultValue 300 */
  initialMs: number;
  /** @defaultValue 2000 */
  maxMs: number;
}

export const defaultPolling: PollingPolicy = { initialMs: 300, maxMs: 2000 };

export const defaultTimeoutMs = 30_000;
export const defaultKeepAliveIdleMs = 4_000;

export function isTokenAuth(auth: TokenAuth | TicketAuth): auth is TokenAuth {
  return 'tokenId' in auth;
}

/** `https://host:8006` or `https://host:8006/api2/json/` → `https://host:8006/api2/json`. */
export function apiBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return trimmed.endsWith('/api2/json') ? trimmed : `${trimmed}/api2/json`;
}
