import pg from 'pg';

/**
 * Creates the database DATABASE_URL names when it is missing (the API then migrates it), connecting
 * to the server's `postgres` database to do so. A first `pnpm start` needs nothing made by hand.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `cannot reach Postgres at ${admin.host} (${error instanceof Error ? error.message : error}); start it (docker compose up -d postgres) or set DATABASE_URL`,
    );
  }
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}
