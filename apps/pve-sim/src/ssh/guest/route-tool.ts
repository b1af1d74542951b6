/**
 * `ip route` inside a guest: the listing (text and `-j`, filtered by `dev`, a destination or
 * `proto`) and the changes `add`, `replace`, `change`, `append`, `del` (root), kept on the guest's
 * disk record so they survive a simulator restart and follow snapshots. The kernel's checks are
 * reproduced with its messages and iproute2's exit codes: an existing route (`File exists`, 2), a
 * gateway not on a connected network (`Nexthop has invalid gateway`, 2), a destination with host
 * bits (`Invalid prefix for given prefix length`, 2), an unknown device (1), a missing route on
 * delete (`No such process`, 2), a malformed prefix or address (1).
 */
import { isIPv4 } from 'node:net';
import { formatCidr, parseCidr } from '../../network/addresses';
import {
  destinationCidr,
  type GuestNic,
  type GuestRoute,
  gatewayOnLink,
  routesOf,
  sameRouteKey,
} from '../../network/topology';
import type { GuestRouteEntry } from '../../state/guest-disk';
import type { CommandOutcome } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';
import type { GuestNet } from './guest-network';

/** iproute2's `matches`: the word is a non-empty prefix of the keyword. */
const matches = (word: string | undefined, keyword: string) =>
  word !== undefined && word !== '' && keyword.startsWith(word);

export type RouteVerb = 'add' | 'change' | 'replace' | 'append' | 'delete';

/** The change verb `word` names, in iproute2's order of checking. */
export function routeVerb(word: string | undefined): RouteVerb | undefined {
  if (matches(word, 'add')) return 'add';
  if (matches(word, 'change') || word === 'chg') return 'change';
  if (matches(word, 'replace')) return 'replace';
  if (matches(word, 'append')) return 'append';
  if (matches(word, 'delete')) return 'delete';
  return undefined;
}

const usage =
  'Usage: ip route { list | flush } SELECTOR\n       ip route get ADDRESS\n       ip route { add | del | change | append | replace } ROUTE\n';

interface RouteSpec {
  destination?: string;
  via?: string;
  dev?: string;
  metric?: number;
  proto?: string;
  type?: string;
}

/** The destination in the kernel's form: `default`, a bare address for a /32, else network/prefix. */
function normalDestination(cidr: ReturnType<typeof parseCidr> & object): string {
  if (cidr.prefix === 0) return 'default';
  const text = formatCidr(cidr);
  return cidr.prefix === 32 ? text.slice(0, -3) : text;
}

const routeTypes = [
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'throw',
  'unreachable',
  'prohibit',
  'blackhole',
  'nat',
];

function parseRoute(args: string[]): { spec: RouteSpec } | { error: CommandOutcome } {
  const spec: RouteSpec = {};
  for (let index = 0; index < args.length; index++) {
    const word = args[index]!;
    const value = () => {
      index++;
      return args[index];
    };
    if (word === 'via') {
      let address = value();
      if (address === 'inet') address = value();
      if (!address || !isIPv4(address)) {
        return { error: { stderr: `Error: any valid address is expected rather than "${address ?? ''}".\n`, code: 1 } };
      }
      spec.via = address;
    } else if (word === 'dev' || word === 'oif') {
      spec.dev = value();
    } else if (['metric', 'priority', 'preference'].some((keyword) => matches(word, keyword))) {
      const text = value() ?? '';
      if (!/^\d+$/.test(text))
        return { error: { stderr: `Error: argument "${text}" is wrong: "metric" value is invalid\n\n`, code: 255 } };
      spec.metric = Number(text);
    } else if (matches(word, 'protocol')) {
      spec.proto = value();
    } else if (['scope', 'table', 'src', 'mtu', 'advmss', 'realm', 'tos'].includes(word)) {
      // Accepted and not modelled: the main table, the preferred source, per-route metrics.
      value();
    } else if (word === 'onlink') {
      // A gateway the kernel should take as on the link: still it must be on a connected network here.
    } else {
      let text = word === 'to' ? value() : word;
      if (text && routeTypes.includes(text)) {
        spec.type = text;
        text = value();
      }
      if (text === undefined || matches(text, 'help')) return { error: { stderr: usage, code: 255 } };
      if (spec.destination !== undefined) {
        return { error: { stderr: `Error: either "to" is duplicate, or "${text}" is a garbage.\n`, code: 255 } };
      }
      if (text === 'default' || text === 'all' || text === 'any') {
        spec.destination = 'default';
        continue;
      }
      const [address, bits] = text.split('/');
      const cidr = address && isIPv4(address) ? parseCidr(text) : undefined;
      if (!cidr) return { error: { stderr: `Error: any valid prefix is expected rather than "${text}".\n`, code: 1 } };
      // The kernel refuses a network address with bits set past the prefix length.
      if (bits !== undefined && formatCidr(cidr).split('/')[0] !== address) {
        return { error: { stderr: 'Error: Invalid prefix for given prefix length.\n', code: 2 } };
      }
      spec.destination = normalDestination(cidr);
    }
  }
  return { spec };
}

function changesOf(machine: GuestMachine): GuestRouteEntry[] {
  machine.disk.routes ??= [];
  return machine.disk.routes;
}

/** Whether a route of the table is one the guest added (rather than one its configuration gives). */
function addedEntry(changes: GuestRouteEntry[], route: GuestRoute): number {
  return changes.findIndex(
    (change) =>
      !change.deleted &&
      change.dev === route.nic.name &&
      change.destination === route.destination &&
      change.via === route.via &&
      (change.metric ?? 0) === (route.metric ?? 0),
  );
}

/** Takes `route` out of the table: forgets it if the guest added it, else records its deletion. */
function removeRoute(changes: GuestRouteEntry[], route: GuestRoute): void {
  const index = addedEntry(changes, route);
  if (index >= 0) {
    changes.splice(index, 1);
    return;
  }
  const hidden: GuestRouteEntry = { destination: route.destination, dev: route.nic.name, deleted: true };
  if (route.metric) hidden.metric = route.metric;
  changes.push(hidden);
}

/** `ip route add|change|replace|append|del ROUTE` (root only). */
export function changeRoute(
  machine: GuestMachine,
  net: GuestNet | undefined,
  verb: RouteVerb,
  args: string[],
  user: string,
): CommandOutcome {
  const parsed = parseRoute(args);
  if ('error' in parsed) return parsed.error;
  const { spec } = parsed;
  if (spec.destination === undefined) return { stderr: usage, code: 255 };
  const nics: GuestNic[] = net?.nics() ?? [];
  const dev = spec.dev === undefined ? undefined : nics.find((nic) => nic.name === spec.dev);
  if (spec.dev !== undefined && !dev && spec.dev !== 'lo')
    return { stderr: `Cannot find device "${spec.dev}"\n`, code: 1 };
  if (user !== 'root') return { stderr: 'RTNETLINK answers: Operation not permitted\n', code: 2 };
  const changes = changesOf(machine);
  const table = routesOf(nics, changes);
  const key = { destination: spec.destination, metric: spec.metric ?? 0 };

  if (verb === 'delete') {
    const found = table.find(
      (route) =>
        route.destination === spec.destination &&
        (spec.metric === undefined || (route.metric ?? 0) === spec.metric) &&
        (spec.dev === undefined || route.nic.name === spec.dev) &&
        (spec.via === undefined || route.via === spec.via),
    );
    if (!found) return { stderr: 'RTNETLINK answers: No such process\n', code: 2 };
    removeRoute(changes, found);
    return {};
  }

  if (spec.type && spec.type !== 'unicast') {
    return { stderr: `pve-sim: route type "${spec.type}" is not simulated\n`, code: 2 };
  }
  // The interface: the one named, else the one whose connected network holds the gateway.
  let nic = dev;
  if (spec.via !== undefined) {
    const onLink = (candidate: GuestNic) => candidate.segment !== undefined && gatewayOnLink(candidate, spec.via!);
    nic = dev ? (onLink(dev) ? dev : undefined) : nics.find(onLink);
    const own = nics.some((candidate) => candidate.address?.ip === spec.via);
    if (!nic || own) return { stderr: 'Error: Nexthop has invalid gateway.\n', code: 2 };
  }
  if (!nic) return { stderr: 'RTNETLINK answers: No such device\n', code: 2 };
  const existing = table.find((route) => sameRouteKey(route, key));
  if (verb === 'add' && existing) return { stderr: 'RTNETLINK answers: File exists\n', code: 2 };
  if (verb === 'change' && !existing) return { stderr: 'RTNETLINK answers: No such file or directory\n', code: 2 };
  if ((verb === 'replace' || verb === 'change') && existing) removeRoute(changes, existing);
  const entry: GuestRouteEntry = { destination: spec.destination, dev: nic.name };
  if (spec.via !== undefined) entry.via = spec.via;
  if (spec.metric) entry.metric = spec.metric;
  if (spec.proto !== undefined && spec.proto !== 'boot') entry.proto = spec.proto;
  changes.push(entry);
  return {};
}

/** One route as iproute2 prints it (fields in its order; `proto boot` and `scope global` unsaid). */
function routeLine(route: GuestRoute): string {
  let line = route.destination;
  if (route.via) line += ` via ${route.via}`;
  line += ` dev ${route.nic.name}`;
  if (route.proto !== 'boot') line += ` proto ${route.proto}`;
  if (route.scope) line += ` scope ${route.scope}`;
  if (route.src) line += ` src ${route.src}`;
  if (route.metric) line += ` metric ${route.metric}`;
  return `${line} `;
}

function routeJson(route: GuestRoute): Record<string, unknown> {
  const entry: Record<string, unknown> = { dst: route.destination };
  if (route.via) entry.gateway = route.via;
  entry.dev = route.nic.name;
  if (route.proto !== 'boot') entry.protocol = route.proto;
  if (route.scope) entry.scope = route.scope;
  if (route.src) entry.prefsrc = route.src;
  if (route.metric) entry.metric = route.metric;
  entry.flags = [];
  return entry;
}

/** `ip route [show|list] [dev D] [proto P] [via G] [[to] PREFIX]`. */
export function showRoutes(net: GuestNet, args: string[], json: boolean): CommandOutcome {
  let routes = net.routes();
  for (let index = 0; index < args.length; index++) {
    const word = args[index]!;
    const value = args[++index];
    if (word === 'dev' || word === 'oif') {
      if (!net.nics().some((nic) => nic.name === value)) return { stderr: `Cannot find device "${value}"\n`, code: 1 };
      routes = routes.filter((route) => route.nic.name === value);
    } else if (matches(word, 'protocol')) {
      routes = routes.filter((route) => route.proto === value);
    } else if (word === 'via') {
      routes = routes.filter((route) => route.via === value);
    } else if (matches(word, 'table') || matches(word, 'scope') || word === 'src') {
      // Only the main table is kept; other filters are not modelled.
    } else {
      const text = word === 'to' ? value : word;
      if (word !== 'to') index--;
      if (text === undefined) break;
      const cidr = text === 'default' ? { base: 0, prefix: 0 } : parseCidr(text);
      if (!cidr) return { stderr: `Error: any valid prefix is expected rather than "${text}".\n`, code: 1 };
      // A bare prefix (or `to PREFIX`) selects exactly that destination, as iproute2's `exact`.
      routes = routes.filter((route) => {
        const own = destinationCidr(route.destination);
        return own.base === cidr.base && own.prefix === cidr.prefix;
      });
    }
  }
  if (json) return { stdout: `${JSON.stringify(routes.map(routeJson))}\n` };
  return { stdout: routes.map((route) => `${routeLine(route)}\n`).join('') };
}
