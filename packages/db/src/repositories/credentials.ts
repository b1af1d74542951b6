import type { Db } from '../connection';

/**
 * The sealed form of a credential (AES-GCM, see `secrets.ts`). Only `CredentialStore` calls these:
 * it is the one place that seals and opens them.
 */
export async function findSealedCredential(db: Db, platformId: string, kind: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('credentials')
    .select('sealed')
    .where('platform_id', '=', platformId)
    .where('kind', '=', kind)
    .executeTakeFirst();
  return row?.sealed;
}

/** Stores a sealed credential unless one of that kind exists for the platform (the first one stays). */
export async function insertSealedCredentialIfAbsent(
  db: Db,
  credential: { platformId: string; kind: string; sealed: string },
): Promise<void> {
  await db
    .insertInto('credentials')
    .values({ platform_id: credential.platformId, kind: credential.kind, sealed: credential.sealed })
    .onConflict((oc) => oc.columns(['platform_id', 'kind']).doNothing())
    .execute();
}

/** Deletes every sealed credential of the platform whose kind starts with `prefix`; returns how many went. */
export async function deleteSealedCredentialsByPrefix(db: Db, platformId: string, prefix: string): Promise<number> {
  const result = await db
    .deleteFrom('credentials')
    .where('platform_id', '=', platformId)
    .where('kind', 'like', `${prefix.replace(/[%_\\]/g, '\\$&')}%`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
