import { createHash, randomBytes } from 'node:crypto';
import { type Db, findApiKeyByHash, insertApiKey } from '@glassdome/db';

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

/** Makes sure the bootstrap admin key from GLASSDOME_ADMIN_KEY exists (idempotent across restarts and replicas). */
export async function ensureAdminKey(db: Db, key: string): Promise<string> {
  return storeApiKey(db, key, 'bootstrap-admin', 'admin');
}

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

export async function principalOfKey(db: Db, key: string): Promise<Principal | undefined> {
  const row = await findApiKeyByHash(db, hashApiKey(key));
  return row && { keyId: row.id, name: row.name, role: row.role as Role };
}
