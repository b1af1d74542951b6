import { sql } from 'kysely';
import type { Db } from '../connection';

export interface NewApiKey {
  name: string;
  /** The first characters of the key, shown in listings so a key can be recognised. */
  prefix: string;
  /** SHA-256 of the key (hex); the key itself is never stored. */
  keyHash: string;
  role: string;
}

export async function insertApiKey(db: Db, key: NewApiKey): Promise<string> {
  const row = await db
    .insertInto('api_keys')
    .values({ name: key.name, prefix: key.prefix, key_hash: key.keyHash, role: key.role })
    .onConflict((oc) => oc.column('key_hash').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (row) return row.id;
  const existing = await db
    .selectFrom('api_keys')
    .select('id')
    .where('key_hash', '=', key.keyHash)
    .executeTakeFirstOrThrow();
  return existing.id;
}

/** The live (not revoked) key with this hash. */
export async function findApiKeyByHash(db: Db, keyHash: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role'])
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** The live (not revoked) key with this id: what a web session (which holds the id, never the key) resolves to. */
export async function findLiveApiKeyById(db: Db, id: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role'])
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Every key without its hash. */
export async function listApiKeys(db: Db) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'prefix', 'role', 'created_at', 'last_used_at', 'revoked_at'])
    .orderBy('created_at')
    .execute();
}

export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: sql`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
