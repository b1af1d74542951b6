import { CompiledQuery, type Selectable, sql } from 'kysely';
import { type Db, preparedByName } from '../connection';
import type { ApiKeysTable } from '../schema';

export interface NewApiKey {
  name: string;
  /** The first characters of the key, shown in listings so a key can be recognised. */
  prefix: string;
  /** SHA-256 of the key (hex); the key itself is never stored. */
  keyHash: string;
  role: string;
  /** The project the key acts in (created beforehand by the caller). @defaultValue 'default' */
  project?: string;
  /** A trainee key's lab copy. */
  labCopy?: { labId: string; copy: number };
}

export async function insertApiKey(db: Db, key: NewApiKey): Promise<string> {
  const row = await db
    .insertInto('api_keys')
    .values({
      name: key.name,
      prefix: key.prefix,
      key_hash: key.keyHash,
      role: key.role,
      project: key.project ?? 'default',
      lab_id: key.labCopy?.labId ?? null,
      copy: key.labCopy?.copy ?? null,
    })
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

/**
 * The live (not revoked) key with this hash: asked on every API request, so its text is written once
 * here (the hash its one parameter), not composed and compiled for each lookup, and run as a named
 * prepared statement; each run still reads the row as it is then.
 */
export async function findApiKeyByHash(db: Db, keyHash: string): Promise<KeyRow | undefined> {
  return (await db.executeQuery<KeyRow>(CompiledQuery.raw(KEY_BY_HASH, [keyHash]))).rows[0];
}

const KEY_BY_HASH =
  'select "id", "name", "role", "project", "lab_id", "copy" from "api_keys" where "key_hash" = $1 and "revoked_at" is null';
preparedByName(KEY_BY_HASH);

/** A key's row as `findApiKeyByHash` reads it (the columns `KEY_BY_HASH` selects). */
export type KeyRow = Pick<Selectable<ApiKeysTable>, 'id' | 'name' | 'role' | 'project' | 'lab_id' | 'copy'>;

/** The live (not revoked) key with this id: what a web session (which holds the id, never the key) resolves to. */
export async function findLiveApiKeyById(db: Db, id: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role', 'project', 'lab_id', 'copy'])
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Every key without its hash (only one project's with `project`). */
export async function listApiKeys(db: Db, project?: string) {
  let query = db
    .selectFrom('api_keys')
    .select(['id', 'name', 'prefix', 'role', 'project', 'lab_id', 'copy', 'created_at', 'last_used_at', 'revoked_at']);
  if (project !== undefined) query = query.where('project', '=', project);
  return query.orderBy('created_at').execute();
}

/**
 * Records that the key was used, at most once per `everySeconds`: a key used constantly costs one
 * write per interval, not one per request. Returns whether the row was written.
 */
export async function touchApiKey(db: Db, id: string, everySeconds: number): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ last_used_at: sql`now()` })
    .where('id', '=', id)
    .where((eb) =>
      eb.or([
        eb('last_used_at', 'is', null),
        eb('last_used_at', '<', sql<Date>`now() - make_interval(secs => ${everySeconds})`),
      ]),
    )
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
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
