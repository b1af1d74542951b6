/**
 * BENCH_PG_SOCKET=<dir>: the processes a bench starts reach Postgres through the Unix-domain socket in
 * <dir> (e.g. /var/run/postgresql) instead of TCP on loopback, as a deployment on one machine may
 * (pg takes a `host` parameter naming a directory as the socket's, over the URL's host). The bench's
 * own connections stay on TCP.
 */
export function viaPostgresSocket(url: string): string {
  const dir = process.env.BENCH_PG_SOCKET;
  if (!dir) return url;
  const parsed = new URL(url);
  parsed.searchParams.set('host', dir);
  return parsed.toString();
}
