import type { Db } from '../connection';

/** The fingerprint trusted for `host:port`, if any. */
export async function findSshHostKey(db: Db, host: string, port: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('ssh_host_keys')
    .select('fingerprint')
    .where('host', '=', host)
    .where('port', '=', port)
    .executeTakeFirst();
  return row?.fingerprint;
}

/** Records the fingerprint unless one is already recorded for `host:port` (the first one stays). */
export async function insertSshHostKeyIfAbsent(
  db: Db,
  key: { host: string; port: number; fingerprint: string; keyType: string | null },
): Promise<void> {
  await db
    .insertInto('ssh_host_keys')
    .values({ host: key.host, port: key.port, fingerprint: key.fingerprint, key_type: key.keyType })
    .onConflict((conflict) => conflict.columns(['host', 'port']).doNothing())
    .execute();
}

export async function deleteSshHostKey(db: Db, host: string, port: number): Promise<void> {
  await db.deleteFrom('ssh_host_keys').where('host', '=', host).where('port', '=', port).execute();
}

/** Every trusted key of a port, or of all (for tests and reports). */
export async function listSshHostKeys(db: Db, filter: { port?: number } = {}) {
  let query = db.selectFrom('ssh_host_keys').selectAll();
  if (filter.port !== undefined) query = query.where('port', '=', filter.port);
  return query.orderBy('host').orderBy('port').execute();
}
