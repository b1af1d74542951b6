import { isTokenAuth, type TicketAuth, type TokenAuth } from './config';

/** Supplies the credentials of each request and names every secret the error scrubber must hide. */
export interface Authenticator {
  headersFor(method: string): Promise<Record<string, string>>;
  /** Forgets a refused session; true when a fresh login might succeed (tickets), false for tokens. */
  invalidate(): boolean;
  /** Strings that must never appear in an error or a log line. */
  secrets(): string[];
}

class TokenAuthenticator implements Authenticator {
  constructor(private readonly auth: TokenAuth) {}

  async headersFor(): Promise<Record<string, string>> {
    return { Authorization: `PVEAPIToken=${this.auth.tokenId}=${this.auth.tokenSecret}` };
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

class TicketAuthenticator implements Authenticator {
  #session: { ticket: Ticket; obtainedAt: number } | undefined;
  #pending: Promise<Ticket> | undefined;

  constructor(
    private readonly auth: TicketAuth,
    private readonly login: LoginCall,
  ) {}

  async headersFor(method: string): Promise<Record<string, string>> {
    const ticket = await this.#current();
    const headers: Record<string, string> = { Cookie: `PVEAuthCookie=${encodeURIComponent(ticket.ticket)}` };
    // PVE demands the CSRF token on every non-GET call made with a ticket.
    if (method !== 'GET') headers.CSRFPreventionToken = ticket.CSRFPreventionToken;
    return headers;
  }

  invalidate(): boolean {
    this.#session = undefined;
    return true;
  }

  secrets(): string[] {
    const session = this.#session?.ticket;
    return [this.auth.password, ...(session ? [session.ticket, session.CSRFPreventionToken] : [])];
  }

  async #current(): Promise<Ticket> {
    const session = this.#session;
    if (session && Date.now() - session.obtainedAt < ticketRenewAfterMs) return session.ticket;
    // One login at a time: concurrent requests share it instead of each opening a session.
    this.#pending ??= this.#obtain(session?.ticket).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #obtain(previous: Ticket | undefined): Promise<Ticket> {
    let ticket: Ticket;
    try {
      ticket = await this.login(this.auth.username, previous?.ticket ?? this.auth.password);
    } catch (error) {
      if (!previous) throw error;
      ticket = await this.login(this.auth.username, this.auth.password);
    }
    this.#session = { ticket, obtainedAt: Date.now() };
    return ticket;
  }
}

export function createAuthenticator(auth: TokenAuth | TicketAuth, login: LoginCall): Authenticator {
  return isTokenAuth(auth) ? new TokenAuthenticator(auth) : new TicketAuthenticator(auth, login);
}
