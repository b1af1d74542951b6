import type { Db } from '@glassdome/db';
import type { HostKeyStore } from './host-key';

/** Trust-on-first-use records in the `ssh_host_keys` table, shared by every worker. */
export class PostgresHostKeyStore implements HostKeyStore {
  constructor(private readonly db: Db) {}

  async get(host: string, port: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('ssh_host_keys')
      .select('fingerprint')
      .where('host', '=', host)
      .where('port', '=', port)
      .executeTakeFirst();
    return row?.fingerprint;
  }

  async trust(host: string, port: number, fingerprint: string, keyType: string): Promise<string> {
    // Two workers meeting a new host at once: the first insert wins and both compare against it.
    await this.db
      .insertInto('ssh_host_keys')
      .values({ host, port, fingerprint, key_type: keyType })
      .onConflict((conflict) => conflict.columns(['host', 'port']).doNothing())
      .execute();
    // Undefined only if forget() ran in between; our key is then the one just seen, so it stands.
    return (await this.get(host, port)) ?? fingerprint;
  }

  /** Forgets the key of a host that was legitimately reinstalled, so the next connection trusts anew. */
  async forget(host: string, port: number): Promise<void> {
    await this.db.deleteFrom('ssh_host_keys').where('host', '=', host).where('port', '=', port).execute();
  }
}
