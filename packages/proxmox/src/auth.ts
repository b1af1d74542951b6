import { isTokenAuth, type TicketAuth, type TokenAuth } from './config';

/**
 * Supplies the credentials of each request and names every secret the error scrubber must hide.
 * Headers are name/value pairs in one flat list; the same list serves every call of a session, so
 * the client writes its header lines once per list (see ProxmoxClient's #exchange).
 */
export interface Authenticator {
  headersFor(method: string): Promise<readonly string[]>;
  /** Forgets a refused session; true when a fresh login might succeed (tickets), false for tokens. */
  invalidate(): boolean;
  /** Strings that must never appear in an error or a log line. */
  secrets(): string[];
}

class TokenAuthenticator implements Authenticator {
  readonly #headers: readonly string[];

  constructor(private readonly auth: TokenAuth) {
    this.#headers = ['Authorization', `PVEAPIToken=${auth.tokenId}=${auth.tokenSecret}`];
  }

  async headersFor(): Promise<readonly string[]> {
    return this.#headers;
  }

  invalidate(): boolean {
    return false;
  }

  secrets(): string[] {
    return [this.auth.tokenSecret];
  }
}

export interface Ticket {
  ticket: string;
  CSRFPreventionToken: string;
}

/** POST /access/ticket without credentials; `password` is the password or a ticket to renew. */
export type LoginCall = (username: string, password: string) => Promise<Ticket>;

/** PVE tickets live 2 h; renewing after 1 h (as proxmoxer does) keeps a margin for clock skew. */
const ticketRenewAfterMs = 60 * 60 * 1000;

/** A session's headers: the cookie alone for GET, with the CSRF token for everything else. */
interface SessionHeaders {
  read: readonly string[];
  write: readonly string[];
}

class TicketAuthenticator implements Authenticator {
  #session: { ticket: Ticket; obtainedAt: number; headers: SessionHeaders } | undefined;
  #pending: Promise<SessionHeaders> | undefined;

  constructor(
    private readonly auth: TicketAuth,
    private readonly login: LoginCall,
  ) {}

  async headersFor(method: string): Promise<readonly string[]> {
    const headers = await this.#current();
    return method === 'GET' ? headers.read : headers.write;
  }

  invalidate(): boolean {
    this.#session = undefined;
    return true;
  }

  secrets(): string[] {
    const session = this.#session?.ticket;
    return [this.auth.password, ...(session ? [session.ticket, session.CSRFPreventionToken] : [])];
  }

  async #current(): Promise<SessionHeaders> {
    const session = this.#session;
    if (session && Date.now() - session.obtainedAt < ticketRenewAfterMs) return session.headers;
    // One login at a time: concurrent requests share it instead of each opening a session.
    this.#pending ??= this.#obtain(session?.ticket).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #obtain(previous: Ticket | undefined): Promise<SessionHeaders> {
    let ticket: Ticket;
    try {
      ticket = await this.login(this.auth.username, previous?.ticket ?? this.auth.password);
    } catch (error) {
      if (!previous) throw error;
      ticket = await this.login(this.auth.username, this.auth.password);
    }
    const cookie = ['Cookie', `PVEAuthCookie=${encodeURIComponent(ticket.ticket)}`];
    // PVE demands the CSRF token on every non-GET call made with a ticket.
    const headers = { read: cookie, write: [...cookie, 'CSRFPreventionToken', ticket.CSRFPreventionToken] };
    this.#session = { ticket, obtainedAt: Date.now(), headers };
    return headers;
  }
}

export function createAuthenticator(auth: TokenAuth | TicketAuth, login: LoginCall): Authenticator {
  return isTokenAuth(auth) ? new TokenAuthenticator(auth) : new TicketAuthenticator(auth, login);
}
