import { type Db, openSecret } from '@glassdome/db';
import { SshKeyError } from './errors';
import { assertUsablePrivateKey } from './keys';

/** The `credentials.kind` under which a platform's SSH private key is sealed. */
export const SSH_PRIVATE_KEY_KIND = 'ssh_private_key';

/**
 * Opens a private key sealed in the encrypted credential store (`credentials` table, sealed with
 * GLASSDOME_SECRET_KEY) and checks that it parses. The key leaves Postgres only through here.
 */
export async function loadPrivateKeyFromStore(
  db: Db,
  secretKey: Buffer,
  platformId: string,
  kind = SSH_PRIVATE_KEY_KIND,
): Promise<string> {
  const row = await db
    .selectFrom('credentials')
    .select('sealed')
    .where('platform_id', '=', platformId)
    .where('kind', '=', kind)
    .executeTakeFirst();
  if (!row) throw new SshKeyError(`no ${kind} credential stored for platform ${platformId}`);
  const key = openSecret(secretKey, row.sealed);
  assertUsablePrivateKey(key);
  return key;
}
