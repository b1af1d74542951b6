import { SshKeyError } from './errors';
import { assertUsablePrivateKey } from './keys';

/** The `credentials.kind` under which a platform's SSH private key is sealed. */
export const SSH_PRIVATE_KEY_KIND = 'ssh_private_key';

/**
 * Where sealed credentials are opened: `CredentialStore` of `@glassdome/db` (the `credentials` table,
 * sealed with GLASSDOME_SECRET_KEY). This package never sees the table or the secret key.
 */
export interface CredentialReader {
  /** The opened credential, or undefined when none of that kind is stored for the platform. */
  read(platformId: string, kind: string): Promise<string | undefined>;
}

/**
 * A platform's private key from the encrypted credential store, checked to parse. The key leaves the
 * store only through here.
 */
export async function loadPrivateKeyFromStore(
  credentials: CredentialReader,
  platformId: string,
  kind = SSH_PRIVATE_KEY_KIND,
): Promise<string> {
  const key = await credentials.read(platformId, kind);
  if (key === undefined) throw new SshKeyError(`no ${kind} credential stored for platform ${platformId}`);
  assertUsablePrivateKey(key);
  return key;
}
