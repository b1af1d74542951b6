/**
 * What REDIS_URL names: one Redis server, a Sentinel-watched master, or a Redis Cluster. Only the
 * parsing lives here (no client library): @glassdome/queue builds the ioredis connection from it.
 *
 *   redis://[user:password@]host[:port][/db]              one server (rediss:// over TLS)
 *   redis-sentinel://[user:password@]host:port[,host:port…]/<master>[?db=N]
 *                                                           the master a Sentinel set names (rediss-sentinel://)
 *   redis-cluster://[user:password@]host:port[,host:port…]  a Redis Cluster, from any of its nodes (rediss-cluster://)
 *
 * The user and password are the data nodes' (Sentinels are asked without one, or with the same
 * password when `sentinelAuth=1`). Every key Glassdome writes starts with QUEUE_PREFIX, a hash tag
 * (`{glassdome}`), so in a cluster they all sit in one slot: BullMQ's scripts and flows need that.
 */

export interface RedisNode {
  host: string;
  port: number;
}

interface Common {
  username?: string | undefined;
  password?: string | undefined;
  tls: boolean;
}

export type RedisTarget =
  | (Common & { kind: 'server'; url: string })
  | (Common & { kind: 'sentinel'; sentinels: RedisNode[]; master: string; db: number; sentinelAuth: boolean })
  | (Common & { kind: 'cluster'; nodes: RedisNode[] });

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

const MULTI = /^(rediss?)-(sentinel|cluster):\/\/(?:([^@/]*)@)?([^/?#@]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/;
const NODE = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;
const MASTER_NAME = /^[A-Za-z0-9._-]{1,100}$/;

function nodesOf(list: string, scheme: string): RedisNode[] {
  const nodes = list.split(',').map((entry) => {
    const match = NODE.exec(entry.trim());
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) {
      throw new RedisUrlError(`${scheme}: "${entry}" is not host:port`);
    }
    return { host: match[1] ?? match[2]!, port };
  });
  if (nodes.length === 0) throw new RedisUrlError(`${scheme}: names no host:port`);
  return nodes;
}

function credentials(userinfo: string | undefined): Pick<Common, 'username' | 'password'> {
  if (!userinfo) return {};
  const colon = userinfo.indexOf(':');
  const decode = (text: string) => (text ? decodeURIComponent(text) : undefined);
  return colon < 0
    ? { username: decode(userinfo) }
    : { username: decode(userinfo.slice(0, colon)), password: decode(userinfo.slice(colon + 1)) };
}

/** Reads REDIS_URL; throws RedisUrlError saying what is wrong (never echoing a password). */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) {
    if (!URL.canParse(url) || /\s/.test(url)) throw new RedisUrlError('is not a valid redis:// URL');
    const parsed = new URL(url);
    return {
      kind: 'server',
      url,
      tls: parsed.protocol === 'rediss:',
      ...credentials(parsed.username || parsed.password ? `${parsed.username}:${parsed.password}` : undefined),
    };
  }
  const match = MULTI.exec(url);
  if (!match) {
    throw new RedisUrlError(
      'must be redis://host:port, redis-sentinel://host:port[,host:port…]/<master> or redis-cluster://host:port[,host:port…]',
    );
  }
  const [, transport, kind, userinfo, hosts, path, query] = match;
  const scheme = `${transport}-${kind}://`;
  const common = { tls: transport === 'rediss', ...credentials(userinfo) };
  const params = new URLSearchParams(query ?? '');
  const known = kind === 'sentinel' ? ['db', 'sentinelAuth'] : [];
  const unknown = [...params.keys()].filter((key) => !known.includes(key));
  if (unknown.length > 0) throw new RedisUrlError(`${scheme}: unknown parameter ${unknown.join(', ')}`);
  const nodes = nodesOf(hosts!, scheme);
  if (kind === 'cluster') {
    if (path) throw new RedisUrlError(`${scheme}: a cluster has no database or master name ("/${path}")`);
    return { kind: 'cluster', nodes, ...common };
  }
  if (!path || !MASTER_NAME.test(path)) {
    throw new RedisUrlError(`${scheme}: name the master after the hosts, e.g. ${scheme}h1:26379,h2:26379/mymaster`);
  }
  const db = Number(params.get('db') ?? 0);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new RedisUrlError(`${scheme}: db must be 0…15`);
  const sentinelAuth = ['1', 'true'].includes(params.get('sentinelAuth') ?? '');
  return { kind: 'sentinel', sentinels: nodes, master: path, db, sentinelAuth, ...common };
}

/** Where the target is, for logs and errors: hosts and names, never credentials. */
export function describeRedisTarget(url: string): string {
  try {
    const target = parseRedisUrl(url);
    const list = (nodes: RedisNode[]) => nodes.map((node) => `${node.host}:${node.port}`).join(',');
    switch (target.kind) {
      case 'server': {
        const parsed = new URL(target.url);
        return `${parsed.hostname}:${parsed.port || '6379'}`;
      }
      case 'sentinel':
        return `master ${target.master} via sentinels ${list(target.sentinels)}`;
      case 'cluster':
        return `cluster ${list(target.nodes)}`;
    }
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
