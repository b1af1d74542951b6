import type { Db } from '../connection';
import {
  deleteSealedCredentialsByPrefix,
  findSealedCredential,
  insertSealedCredentialIfAbsent,
} from '../repositories/credentials';
import { openSecret, sealSecret } from '../secrets';

/**
 * The encrypted credential store (`credentials` table, sealed with GLASSDOME_SECRET_KEY): the one
 * place credentials are sealed and opened. Secrets leave it only as return values, never in errors.
 */
export class CredentialStore {
  readonly #db: Db;
  readonly #secretKey: Buffer;

  constructor(db: Db, secretKey: Buffer) {
    this.#db = db;
    this.#secretKey = secretKey;
  }

  /** The opened credential, or undefined when none of that kind is stored for the platform. */
  async read(platformId: string, kind: string): Promise<string | undefined> {
    const sealed = await findSealedCredential(this.#db, platformId, kind);
    return sealed === undefined ? undefined : openSecret(this.#secretKey, sealed);
  }

  /**
   * Stores `make()` unless a credential of that kind exists, and returns the one stored: concurrent
   * callers (replicas starting together) all get the first one written.
   */
  async readOrCreate(platformId: string, kind: string, make: () => string): Promise<string> {
    const existing = await this.read(platformId, kind);
    if (existing !== undefined) return existing;
    const sealed = sealSecret(this.#secretKey, make());
    await insertSealedCredentialIfAbsent(this.#db, { platformId, kind, sealed });
    const stored = await this.read(platformId, kind);
    if (stored === undefined) throw new Error(`credential ${kind} of platform ${platformId} vanished as it was stored`);
    return stored;
  }

  /** Forgets every credential of the platform whose kind starts with `prefix` (e.g. a destroyed lab's keys). */
  async forget(platformId: string, kindPrefix: string): Promise<number> {
    return deleteSealedCredentialsByPrefix(this.#db, platformId, kindPrefix);
  }
}
