import type { Db } from '../connection';
import { deleteSshHostKey, findSshHostKey, insertSshHostKeyIfAbsent } from '../repositories/ssh-host-keys';

/**
 * Trust-on-first-use SSH host keys in the `ssh_host_keys` table, shared by every worker: the
 * `HostKeyStore` that `@glassdome/ssh` takes.
 */
export class PostgresHostKeyStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  get(host: string, port: number): Promise<string | undefined> {
    return findSshHostKey(this.#db, host, port);
  }

  async trust(host: string, port: number, fingerprint: string, keyType: string): Promise<string> {
    // Two workers meeting a new host at once: the first insert wins and both compare against it.
    await insertSshHostKeyIfAbsent(this.#db, { host, port, fingerprint, keyType });
    // Undefined only if forget() ran in between; our key is then the one just seen, so it stands.
    return (await this.get(host, port)) ?? fingerprint;
  }

  /** Forgets the key of a host that was legitimately reinstalled, so the next connection trusts anew. */
  forget(host: string, port: number): Promise<void> {
    return deleteSshHostKey(this.#db, host, port);
  }
}
