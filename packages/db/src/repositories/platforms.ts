import { sql } from 'kysely';
import type { Db } from '../connection';

export interface PlatformRecord {
  id: string;
  apiUrl: string;
  node: string;
  tokenId: string;
  tlsFingerprint: string | null;
}

/** Inserts the platform, or updates its address, node, token id and fingerprint when it exists. */
export async function upsertPlatform(db: Db, platform: PlatformRecord): Promise<void> {
  const fields = {
    api_url: platform.apiUrl,
    node: platform.node,
    token_id: platform.tokenId,
    tls_fingerprint: platform.tlsFingerprint,
  };
  await db
    .insertInto('platforms')
    .values({ id: platform.id, ...fields })
    .onConflict((oc) => oc.column('id').doUpdateSet({ ...fields, updated_at: sql`now()` }))
    .execute();
}
