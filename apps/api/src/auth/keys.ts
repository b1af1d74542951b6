import { hash, randomBytes } from 'node:crypto';
import {
  type Db,
  ensureProject,
  findApiKeyByHash,
  findLiveApiKeyById,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  type Scope,
} from '@glassdome/db';
import type { Request } from 'express';

/**
 * Roles from least to most: a trainee reads one lab copy; a viewer reads its project; an operator
 * also deploys and tears down in it; an admin does everything everywhere.
 */
export const ROLES = ['trainee', 'viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Roles `POST /keys` hands out; trainee keys come from `POST /labs/:id/trainee-keys`, bound to a copy. */
export const KEY_ROLES = ['viewer', 'operator', 'admin'] as const;

/** The project keys and resources belong to unless one is named. */
export const DEFAULT_PROJECT = 'default';

/** Characters of a key kept in the clear (as `prefix`) so operators can tell keys apart in listings. */
const SHOWN_PREFIX_LENGTH = 10;

/**
 * Keys are stored as SHA-256: they are 256-bit random, so a fast hash is enough to make a leak useless.
 * Every API request hashes its key; the one-shot `hash` costs a fraction of a Hash object's setup.
 */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;
const bearerHashes = new WeakMap<Request, string | null>();

/**
 * The hash of the request's `Authorization: Bearer <key>` (undefined without one, or a malformed
 * one), computed once per request: the limiters and authentication all ask for it.
 */
export function bearerHashOf(req: Request): string | undefined {
  let hash = bearerHashes.get(req);
  if (hash === undefined) {
    const key = BEARER.exec(req.get('authorization') ?? '')?.[1];
    hash = key === undefined ? null : hashApiKey(key);
    bearerHashes.set(req, hash);
  }
  return hash ?? undefined;
}

export function keyPrefix(key: string): string {
  return key.slice(0, SHOWN_PREFIX_LENGTH);
}

/** A new random key (`gd_` + 43 base64url characters); returned once, never stored. */
export function generateApiKey(): string {
  return `gd_${randomBytes(32).toString('base64url')}`;
}

/** Whether `role` may do what `needed` may (an unknown role may do nothing). */
export function roleAtLeast(role: string, needed: Role): boolean {
  const rank = ROLES.indexOf(role as Role);
  return rank >= 0 && rank >= ROLES.indexOf(needed);
}

/**
 * Stores a key's hash under `name` and `role` in `project` (created on first use); a key already
 * stored is left as it is. Returns its id.
 */
export async function storeApiKey(
  db: Db,
  key: string,
  name: string,
  role: Role,
  options: { project?: string; labCopy?: { labId: string; copy: number } } = {},
): Promise<string> {
  const project = options.project ?? DEFAULT_PROJECT;
  await ensureProject(db, project);
  return insertApiKey(db, {
    name,
    role,
    prefix: keyPrefix(key),
    keyHash: hashApiKey(key),
    project,
    ...(options.labCopy ? { labCopy: options.labCopy } : {}),
  });
}

/** The name the key from GLASSDOME_ADMIN_KEY is stored under. */
export const BOOTSTRAP_KEY_NAME = 'bootstrap-admin';

export interface AdminKeyBootstrap {
  id: string;
  /** False when the key was already stored (every restart after the first). */
  created: boolean;
  /** Live bootstrap keys of an earlier GLASSDOME_ADMIN_KEY, revoked now. */
  replaced: number;
  /** The key was revoked through the API earlier: it stays revoked, and the API does not accept it. */
  revoked: boolean;
}

/**
 * Makes GLASSDOME_ADMIN_KEY the one live bootstrap admin key: stored only if missing (so restarts and
 * replicas never add a second), and a bootstrap key of an earlier value revoked, so that changing
 * the variable replaces the key rather than adding one. A key revoked through the API stays revoked.
 */
export async function ensureAdminKey(db: Db, key: string): Promise<AdminKeyBootstrap> {
  const before = new Set((await listApiKeys(db)).map((row) => row.id));
  const id = await storeApiKey(db, key, BOOTSTRAP_KEY_NAME, 'admin');
  const keys = await listApiKeys(db);
  const earlier = keys.filter((row) => row.name === BOOTSTRAP_KEY_NAME && row.id !== id && !row.revoked_at);
  for (const row of earlier) await revokeApiKey(db, row.id);
  return {
    id,
    created: !before.has(id),
    replaced: earlier.length,
    revoked: Boolean(keys.find((row) => row.id === id)?.revoked_at),
  };
}

/** Who a request acts for: the same whether it came with a Bearer key or a web session for that key. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** The project the key acts in (an admin's acts everywhere). */
  project: string;
  /** A trainee key's one lab copy. */
  labCopy?: { labId: string; copy: number };
}

type KeyRow = NonNullable<Awaited<ReturnType<typeof findApiKeyByHash>>>;

function principalOfRow(row: KeyRow): Principal | undefined {
  const role = row.role as Role;
  if (!ROLES.includes(role)) return undefined;
  if (role === 'trainee') {
    // A trainee key without its copy (the lab was deleted) reads nothing at all.
    if (!row.lab_id || row.copy === null) return undefined;
    return {
      keyId: row.id,
      name: row.name,
      role,
      project: row.project,
      labCopy: { labId: row.lab_id, copy: row.copy },
    };
  }
  return { keyId: row.id, name: row.name, role, project: row.project };
}

/** What a principal may see: everything (admin), its project, or its one lab copy (trainee). */
export function scopeOfPrincipal(principal: Principal): Scope {
  if (principal.role === 'admin') return { kind: 'all' };
  if (principal.labCopy) return { kind: 'copy', project: principal.project, ...principal.labCopy };
  return { kind: 'project', project: principal.project };
}

export async function principalOfKey(db: Db, key: string): Promise<Principal | undefined> {
  const row = await findApiKeyByHash(db, hashApiKey(key));
  return row ? principalOfRow(row) : undefined;
}

/**
 * `principalOfKey` for the requests of a whole process, by the key's hash (`bearerHashOf`): the
 * lookups of one key that arrive in the same turn of the event loop share one query, sent once all
 * of them have arrived. Each answer is as fresh as a query of its own (a key revoked before a
 * request came is refused), and a burst of one key's requests costs one lookup per turn instead of
 * one per request.
 */
export function sharedKeyLookups(db: Db): (keyHash: string) => Promise<Principal | undefined> {
  const pending = new Map<string, Promise<Principal | undefined>>();
  return (hash) => {
    let lookup = pending.get(hash);
    if (!lookup) {
      lookup = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => {
          pending.delete(hash);
          return findApiKeyByHash(db, hash);
        })
        .then((row) => (row ? principalOfRow(row) : undefined));
      pending.set(hash, lookup);
    }
    // Each request its own copy: nothing one request does to its principal reaches another.
    return lookup.then((principal) => principal && { ...principal });
  };
}

/** The principal of a live key by its id (a web session holds the id); undefined once the key is revoked. */
export async function principalOfKeyId(db: Db, keyId: string): Promise<Principal | undefined> {
  const row = await findLiveApiKeyById(db, keyId);
  return row ? principalOfRow(row) : undefined;
}
