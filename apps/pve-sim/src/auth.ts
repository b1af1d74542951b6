/**
 * Credentials as pveproxy reads them: `PVEAPIToken=user@realm!name=secret` (split at the last `=`),
 * `PVEAuthCookie` tickets (`PVE:<user>:<hex time>::<signature>`, 2 h) and CSRF tokens for ticket
 * writes. Signatures are HMACs with the simulator's key rather than PVE's RSA key; clients treat
 * both as opaque.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ClusterState } from './state/types';
import type { Identity } from './tasks';

export const ticketLifetimeSeconds = 7200;

/** An authentication failure; its message is the 401 status text. */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

const sign = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('base64').replace(/=+$/, '');

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const hexTime = (seconds: number) => seconds.toString(16).toUpperCase().padStart(8, '0');

export function createTicket(key: Buffer, userid: string, now = Date.now()): string {
  const data = `PVE:${userid}:${hexTime(Math.floor(now / 1000))}`;
  return `${data}::${sign(key, data)}`;
}

/** The user a ticket names, if its signature holds and it is younger than 2 h. */
export function verifyTicket(key: Buffer, ticket: string, now = Date.now()): string | undefined {
  const match = /^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$/.exec(ticket);
  if (!match || !safeEqual(sign(key, match[1]!), match[4]!)) return undefined;
  const age = now / 1000 - Number.parseInt(match[3]!, 16);
  return age >= -300 && age < ticketLifetimeSeconds ? match[2] : undefined;
}

export function createCsrfToken(key: Buffer, userid: string, now = Date.now()): string {
  const stamp = hexTime(Math.floor(now / 1000));
  return `${stamp}:${sign(key, `${stamp}:${userid}`)}`;
}

export function verifyCsrfToken(key: Buffer, token: string | undefined, userid: string, now = Date.now()): boolean {
  const match = /^([0-9A-F]{8}):(.+)$/.exec(token ?? '');
  if (!match || !safeEqual(sign(key, `${match[1]}:${userid}`), match[2]!)) return false;
  const age = now / 1000 - Number.parseInt(match[1]!, 16);
  return age >= -300 && age < ticketLifetimeSeconds;
}

const tokenHeader = /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/;
const tokenId = /^([^\s@!]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$/;

function userUsable(state: ClusterState, userid: string): boolean {
  const user = state.users[userid];
  return user !== undefined && user.enable === 1 && (user.expire === 0 || user.expire > Date.now() / 1000);
}

/** The identity of an `Authorization: PVEAPIToken=…` header; throws `Authentication failed!`. */
export function authenticateToken(state: ClusterState, header: string): Identity {
  const value = decodeURIComponent(tokenHeader.exec(header)?.[1] ?? '');
  const eq = value.lastIndexOf('=');
  const id = tokenId.exec(eq > 0 ? value.slice(0, eq) : '');
  if (!id) throw new AuthError('Authentication failed!');
  const [, userid, name] = id as unknown as [string, string, string];
  const token = state.users[userid]?.tokens[name];
  const secret = value.slice(eq + 1);
  const expired = token !== undefined && token.expire !== 0 && token.expire < Date.now() / 1000;
  if (!token || expired || !userUsable(state, userid) || !safeEqual(token.secret, secret)) {
    throw new AuthError('Authentication failed!');
  }
  return { userid, tokenid: name };
}

/** Normalises `root` / `root@pam` / `username`+`realm` to a userid. */
export function toUserid(username: string, realm?: string): string {
  return username.includes('@') ? username : `${username}@${realm ?? 'pam'}`;
}

/** Checks a username/password (or a still valid ticket as password) for `POST /access/ticket`. */
export function checkCredentials(state: ClusterState, key: Buffer, userid: string, password: string): boolean {
  if (!userUsable(state, userid)) return false;
  if (password.startsWith('PVE:')) return verifyTicket(key, password) === userid;
  const stored = state.users[userid]?.password;
  return stored !== undefined && safeEqual(stored, password);
}

export const usesToken = (header: string | undefined) => header !== undefined && tokenHeader.test(header);
