import { createHash, randomBytes } from 'node:crypto';
import { type Db, findApiKeyByHash, findLiveApiKeyById, insertApiKey, listApiKeys, revokeApiKey } from '@glassdome/db';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Characters of a key kept in the clear (as `prefix`) so operators can tell keys apart in listings. */
const SHOWN_PREFIX_LENGTH = 10;

/** Keys are stored as SHA-256: they are 256-bit random, so a fast hash is enough to make a leak useless. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function keyPrefix(key: string): string {
  return key.slice(0, SHOWN_PREFIX_LENGTH);
}

/** A new random key (`gd_` + 43 base64url characters); returned once, never stored. */
export function generateApiKey(): string {
  return `gd_${randomBytes(32).toString('base64url')}`;
}

/** Whether `role` may do what `needed` may. */
export function roleAtLeast(role: string, needed: Role): boolean {
  return ROLES.indexOf(role as Role) >= ROLES.indexOf(needed);
}

/** Stores a key's hash under `name` and `role`; a key already stored is left as it is. Returns its id. */
export async function storeApiKey(db: Db, key: string, name: string, role: Role): Promise<string> {
  return insertApiKey(db, { name, role, prefix: keyPrefix(key), keyHash: hashApiKey(key) });
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

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

type KeyRow = NonNullable<Awaited<ReturnType<typeof findApiKeyByHash>>>;

function principalOfRow(row: KeyRow): Principal {
  return { keyId: row.id, name: row.name, role: row.role as Role };
}

export async function principalOfKey(db: Db, key: string): Promise<Principal | undefined> {
  const row = await findApiKeyByHash(db, hashApiKey(key));
  return row && principalOfRow(row);
}

/** The principal of a live key by its id (a web session holds the id); undefined once the key is revoked. */
export async function principalOfKeyId(db: Db, keyId: string): Promise<Principal | undefined> {
  const row = await findLiveApiKeyById(db, keyId);
  return row && principalOfRow(row);
}
