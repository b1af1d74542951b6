import type { Db } from '../connection';
import type { JsonValue } from '../schema';

export interface StoredAnswer {
  requestHash: string;
  statusCode: number;
  response: JsonValue;
}

export async function findIdempotentAnswer(db: Db, apiKeyId: string, key: string): Promise<StoredAnswer | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status_code', 'response'])
    .where('api_key_id', '=', apiKeyId)
    .where('key', '=', key)
    .executeTakeFirst();
  return row && { requestHash: row.request_hash, statusCode: row.status_code, response: row.response };
}

/** Stores the first answer for a key; a concurrent second store keeps the first. */
export async function storeIdempotentAnswer(db: Db, apiKeyId: string, key: string, answer: StoredAnswer) {
  await db
    .insertInto('idempotency_keys')
    .values({
      api_key_id: apiKeyId,
      key,
      request_hash: answer.requestHash,
      status_code: answer.statusCode,
      response: JSON.stringify(answer.response),
    })
    .onConflict((oc) => oc.columns(['api_key_id', 'key']).doNothing())
    .execute();
}

/** Deletes stored answers older than `before`; returns how many went. */
export async function pruneIdempotentAnswers(db: Db, before: Date): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
