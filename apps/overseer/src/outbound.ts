/**
 * Outbound HTTP to places a user configured (webhooks): never to private, loopback, link-local or
 * other internal ranges unless the configuration allows that range, and never following redirects.
 * The address is checked where the connection is made (a lookup hook), so a name that resolves to a
 * public address when checked and a private one when connecting (DNS rebinding) is refused too.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/** Ranges no outbound request goes to unless allowed: everything that is not the public internet. */
const INTERNAL_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];
// IPv4-mapped addresses (::ffff:a.b.c.d) are judged as the IPv4 they carry (see refusal), not listed here:
// BlockList would match every IPv4 address against such a range.
const INTERNAL_V6 = [
  '::/128',
  '::1/128',
  '64:ff9b::/96',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

function blockList(v4: readonly string[], v6: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of v4) {
    const [net, prefix] = cidr.split('/');
    list.addSubnet(net!, Number(prefix), 'ipv4');
  }
  for (const cidr of v6) {
    const [net, prefix] = cidr.split('/');
    list.addSubnet(net!, Number(prefix), 'ipv6');
  }
  return list;
}

const INTERNAL = blockList(INTERNAL_V4, INTERNAL_V6);

/** An outbound request to an address Glassdome does not send to; retrying cannot help. */
export class OutboundRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

/** Which addresses a request may reach: public ones, plus the internal ranges the configuration allows. */
export class OutboundPolicy {
  private readonly allowed: BlockList;

  /** `allow`: CIDRs (IPv4 or IPv6) that may be reached although internal (e.g. a webhook receiver on the LAN). */
  constructor(readonly allow: readonly string[] = []) {
    this.allowed = blockList(
      allow.filter((cidr) => isIP(cidr.split('/')[0]!) === 4),
      allow.filter((cidr) => isIP(cidr.split('/')[0]!) === 6),
    );
  }

  /** Why `address` may not be reached, or undefined. An IPv4-mapped IPv6 address is judged as IPv4. */
  refusal(address: string): string | undefined {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const ip = mapped ?? address;
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(ip) === 0) return `${address} is not an IP address`;
    if (!INTERNAL.check(ip, family) || this.allowed.check(ip, family)) return undefined;
    return `${address} is an internal address (allow its range in OVERSEER_WEBHOOK_ALLOW_PRIVATE to post there)`;
  }
}

/** A CIDR list as an env variable holds it. */
export function parseCidrList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

export interface OutboundAnswer {
  status: number;
  /** Set for a 3xx: where the receiver pointed; never followed. */
  location?: string | undefined;
}

/**
 * POSTs `body` to `url` and resolves with the status (the answer's body is discarded). Connects only
 * to addresses `policy` allows, checked on the resolved address itself; a redirect is returned as
 * is, not followed. Rejects with OutboundRefusedError for a refused address or scheme.
 */
export function postOutbound(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: OutboundPolicy,
  options: { signal: AbortSignal; timeoutMs: number },
): Promise<OutboundAnswer> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.reject(new OutboundRefusedError(`${target.protocol} URLs are not posted to`));
  }
  if (target.username || target.password) {
    return Promise.reject(new OutboundRefusedError('URLs with credentials are not posted to'));
  }
  let refused: string | undefined;
  const guardedLookup = (
    hostname: string,
    lookupOptions: object,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      for (const entry of list) {
        const reason = policy.refusal(entry.address);
        if (reason) {
          refused = `${hostname}: ${reason}`;
          return callback(Object.assign(new Error(refused), { code: 'EREFUSEDADDRESS' }), []);
        }
      }
      if ((lookupOptions as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
  // A literal address never goes through lookup: judge it here.
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal)) {
    const reason = policy.refusal(literal);
    if (reason) return Promise.reject(new OutboundRefusedError(reason));
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup as never,
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
      },
      (response: IncomingMessage) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0, location: response.headers.location });
      },
    );
    request.on('error', (error) => reject(refused ? new OutboundRefusedError(refused) : error));
    request.end(body);
  });
}
