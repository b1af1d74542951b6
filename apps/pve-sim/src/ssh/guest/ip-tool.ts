/**
 * `ip` (iproute2) inside a guest: `addr`, `link` and `route` show every NIC the VM has (ens18,
 * ens19… in `netN` order) with the addresses cloud-init gave them, in iproute2's layouts (full,
 * `-4`, `-br`, `-j`); `ip route` lists the routing table (route-tool.ts, which also keeps `ip route
 * add|replace|del`), `ip route get` shows the route a packet would take. Other changing commands need
 * root and are only recorded. `ss -tuln` lists the guest's listening sockets.
 */
import { linkLocal } from '../../guests';
import { broadcastOf } from '../../network/addresses';
import { type GuestNic, routeTo } from '../../network/topology';
import type { Command, CommandOutcome, Invocation } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';
import type { GuestNet } from './guest-network';
import { listeningSockets, type Socket } from './listeners';
import { changeRoute, routeVerb, showRoutes } from './route-tool';

interface Interface {
  index: number;
  name: string;
  loopback: boolean;
  up: boolean;
  mac: string;
  altname?: string;
  inet: Array<{ ip: string; prefix: number; dynamic: boolean; metric?: number }>;
  inet6: Array<{ ip: string; prefix: number; scope: 'host' | 'link' }>;
}

const leaseSeconds = 86247;

function interfaces(nics: GuestNic[]): Interface[] {
  const lo: Interface = {
    index: 1,
    name: 'lo',
    loopback: true,
    up: true,
    mac: '00:00:00:00:00:00',
    inet: [{ ip: '127.0.0.1', prefix: 8, dynamic: false }],
    inet6: [{ ip: '::1', prefix: 128, scope: 'host' }],
  };
  return [
    lo,
    ...nics.map((nic, position): Interface => {
      const entry: Interface = {
        index: position + 2,
        name: nic.name,
        loopback: false,
        up: nic.segment !== undefined,
        mac: nic.mac,
        inet: nic.address ? [{ ...nic.address, ...(nic.address.dynamic ? { metric: 100 } : {}) }] : [],
        inet6: [{ ip: linkLocal(nic.mac), prefix: 64, scope: 'link' }],
      };
      if (nic.index <= 5) entry.altname = `enp0s${18 + nic.index}`;
      return entry;
    }),
  ];
}

function flagsOf(iface: Interface): string[] {
  if (iface.loopback) return ['LOOPBACK', 'UP', 'LOWER_UP'];
  return iface.up ? ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] : ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'];
}

const stateOf = (iface: Interface) => (iface.loopback ? 'UNKNOWN' : iface.up ? 'UP' : 'DOWN');

function headerLine(iface: Interface): string {
  const qdisc = iface.loopback ? 'noqueue' : 'fq_codel';
  const mtu = iface.loopback ? 65536 : 1500;
  return `${iface.index}: ${iface.name}: <${flagsOf(iface).join(',')}> mtu ${mtu} qdisc ${qdisc} state ${stateOf(iface)} group default qlen 1000\n`;
}

function linkLines(iface: Interface): string {
  const kind = iface.loopback ? 'loopback' : 'ether';
  const brd = iface.loopback ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff';
  return `    link/${kind} ${iface.mac} brd ${brd}\n${iface.altname ? `    altname ${iface.altname}\n` : ''}`;
}

function addrBlock(iface: Interface, family: 4 | 6 | undefined): string {
  let out = headerLine(iface);
  if (family === undefined) out += linkLines(iface);
  else if (iface.altname) out += `    altname ${iface.altname}\n`;
  if (family !== 6) {
    for (const inet of iface.inet) {
      const scope = iface.loopback ? 'host' : 'global';
      const brd = iface.loopback ? '' : ` brd ${broadcastOf(inet.ip, inet.prefix)}`;
      const metric = inet.metric ? ` metric ${inet.metric}` : '';
      const dynamic = inet.dynamic ? ' dynamic' : '';
      const life = inet.dynamic ? `${leaseSeconds}sec` : 'forever';
      out += `    inet ${inet.ip}/${inet.prefix}${metric}${brd} scope ${scope}${dynamic} ${iface.name}\n`;
      out += `       valid_lft ${life} preferred_lft ${life}\n`;
    }
  }
  if (family !== 4) {
    for (const inet6 of iface.inet6) {
      out += `    inet6 ${inet6.ip}/${inet6.prefix} scope ${inet6.scope} \n       valid_lft forever preferred_lft forever\n`;
    }
  }
  return out;
}

function addrJson(iface: Interface, family: 4 | 6 | undefined): Record<string, unknown> {
  const info: unknown[] = [];
  if (family !== 6) {
    for (const inet of iface.inet) {
      const entry: Record<string, unknown> = { family: 'inet', local: inet.ip, prefixlen: inet.prefix };
      if (inet.metric) entry.metric = inet.metric;
      if (!iface.loopback) entry.broadcast = broadcastOf(inet.ip, inet.prefix);
      entry.scope = iface.loopback ? 'host' : 'global';
      if (inet.dynamic) entry.dynamic = true;
      entry.label = iface.name;
      entry.valid_life_time = inet.dynamic ? leaseSeconds : 4294967295;
      entry.preferred_life_time = inet.dynamic ? leaseSeconds : 4294967295;
      info.push(entry);
    }
  }
  if (family !== 4) {
    for (const inet6 of iface.inet6) {
      info.push({
        family: 'inet6',
        local: inet6.ip,
        prefixlen: inet6.prefix,
        scope: inet6.scope,
        valid_life_time: 4294967295,
        preferred_life_time: 4294967295,
      });
    }
  }
  return {
    ifindex: iface.index,
    ifname: iface.name,
    flags: flagsOf(iface),
    mtu: iface.loopback ? 65536 : 1500,
    qdisc: iface.loopback ? 'noqueue' : 'fq_codel',
    operstate: stateOf(iface),
    group: 'default',
    txqlen: 1000,
    link_type: iface.loopback ? 'loopback' : 'ether',
    address: iface.mac,
    broadcast: iface.loopback ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff',
    ...(iface.altname ? { altnames: [iface.altname] } : {}),
    addr_info: info,
  };
}

const pad = (text: string, width: number) => (text.length >= width ? `${text} ` : text.padEnd(width + 1));

function showAddresses(list: Interface[], options: IpOptions): string {
  const family = options.family;
  // With a family filter, interfaces without an address of that family are left out.
  const shown = list.filter((iface) => family !== 4 || iface.inet.length > 0);
  if (options.json) return `${JSON.stringify(shown.map((iface) => addrJson(iface, family)))}\n`;
  if (options.brief) {
    return shown
      .map((iface) => {
        const v4 = family === 6 ? [] : iface.inet.map((inet) => `${inet.ip}/${inet.prefix}`);
        const v6 = family === 4 ? [] : iface.inet6.map((inet6) => `${inet6.ip}/${inet6.prefix}`);
        return `${pad(iface.name, 16)}${pad(stateOf(iface), 14)}${[...v4, ...v6].map((a) => `${a} `).join('')}\n`;
      })
      .join('');
  }
  return shown.map((iface) => addrBlock(iface, family)).join('');
}

function showLinks(list: Interface[], options: IpOptions): string {
  if (options.brief) {
    return list
      .map((iface) => `${pad(iface.name, 16)}${pad(stateOf(iface), 14)}${iface.mac} <${flagsOf(iface).join(',')}> \n`)
      .join('');
  }
  return list.map((iface) => headerLine(iface) + linkLines(iface)).join('');
}

function routeGet(net: GuestNet, target: string | undefined, uid: number): CommandOutcome {
  if (!target || !/^\d{1,3}(\.\d{1,3}){3}$/.test(target)) {
    return { stderr: `Error: any valid prefix is expected rather than "${target ?? ''}".\n`, code: 1 };
  }
  const own = net.nics().find((nic) => nic.address?.ip === target);
  if (own || target.startsWith('127.0.0.')) {
    return { stdout: `local ${target} dev lo src ${own ? target : '127.0.0.1'} uid ${uid} \n    cache <local> \n` };
  }
  const route = routeTo(net.nics(), target, net.routeChanges());
  if (!route) return { stderr: 'RTNETLINK answers: Network is unreachable\n', code: 2 };
  const via = route.nextHop === target ? '' : ` via ${route.nextHop}`;
  return { stdout: `${target}${via} dev ${route.nic.name} src ${route.nic.address!.ip} uid ${uid} \n    cache \n` };
}

interface IpOptions {
  family?: 4 | 6;
  brief: boolean;
  json: boolean;
}

const objects = ['address', 'route', 'link', 'neighbour'] as const;
/** `show`/`list` and their abbreviations (`s`, `sh`, `l`, `ls`, `lst`). */
const isReadVerb = (verb: string | undefined) =>
  verb !== undefined &&
  verb !== '' &&
  ('show'.startsWith(verb) || 'list'.startsWith(verb) || verb === 'ls' || verb === 'lst');

/** `ip`: reads answer from the guest's NICs and routing table; route changes are kept, other changes only recorded. */
export function ipCommand(machine: GuestMachine, net: GuestNet | undefined): Command {
  return ({ argv, shell }: Invocation): CommandOutcome => {
    const options: IpOptions = { brief: false, json: false };
    let index = 1;
    for (; index < argv.length && argv[index]!.startsWith('-'); index++) {
      const flag = argv[index]!;
      if (flag === '-4') options.family = 4;
      else if (flag === '-6') options.family = 6;
      else if (/^-br(ief)?$/.test(flag)) options.brief = true;
      else if (/^-j(son)?$/.test(flag)) options.json = true;
    }
    const word = argv[index] ?? '';
    const object = word === '' ? undefined : objects.find((name) => name.startsWith(word));
    if (word !== '' && !object) {
      return { stderr: `Object "${word}" is unknown, try "ip help".\n`, code: 1 };
    }
    const verb = argv[index + 1];
    if (object === 'route' && verb !== undefined && !isReadVerb(verb) && verb !== 'get') {
      const change = routeVerb(verb);
      if (change) return changeRoute(machine, net, change, argv.slice(index + 2), shell.user);
      if ('flush'.startsWith(verb) && argv[index + 2] === 'cache') {
        return shell.user === 'root' ? {} : { stderr: 'Cannot flush routing cache\n', code: 1 };
      }
      return { stderr: `pve-sim: "ip route ${verb}" is not simulated\n`, code: 1 };
    }
    const reading = verb === undefined || isReadVerb(verb) || (object === 'route' && verb === 'get');
    if (!reading) {
      if (shell.user !== 'root') return { stderr: 'RTNETLINK answers: Operation not permitted\n', code: 2 };
      return {};
    }
    if (!object) return { stderr: 'Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n', code: 255 };
    const nics = net?.nics() ?? [];
    const uid = shell.user === 'root' ? 0 : 1000;
    if (object === 'route') {
      if (!net) return { stdout: '' };
      if (verb === 'get') return routeGet(net, argv[index + 2], uid);
      if (options.family === 6) return { stdout: '' };
      return showRoutes(net, argv.slice(index + (verb === undefined ? 1 : 2)), options.json);
    }
    const devIndex = argv.indexOf('dev');
    const device = devIndex >= 0 ? argv[devIndex + 1] : isReadVerb(verb) ? argv[index + 2] : undefined;
    let list = interfaces(nics);
    if (device) {
      list = list.filter((iface) => iface.name === device);
      if (list.length === 0) return { stderr: `Device "${device}" does not exist.\n`, code: 1 };
    }
    if (object === 'address') return { stdout: showAddresses(list, options) };
    if (object === 'link') return { stdout: showLinks(list, options) };
    return { stdout: '' };
  };
}

/** `ss -tuln`: the guest's listening sockets (services, and foreground `nc -l`). */
export function ssCommand(machine: GuestMachine, net: GuestNet | undefined): Command {
  return ({ argv }: Invocation): CommandOutcome => {
    const flags = argv
      .slice(1)
      .filter((arg) => /^-[a-zA-Z]+$/.test(arg))
      .join('');
    const wantTcp = flags.includes('t') || !flags.includes('u');
    const wantUdp = flags.includes('u');
    const sockets: Socket[] = [
      ...listeningSockets(machine, net?.network.sshPort),
      ...(net ? net.network.foreground(net.vmid) : []),
    ];
    const rows = sockets
      .filter((socket) => (socket.proto === 'tcp' ? wantTcp : wantUdp))
      .sort((a, b) => a.port - b.port)
      .map((socket) => {
        const state = socket.proto === 'tcp' ? 'LISTEN' : 'UNCONN';
        const queue = socket.proto === 'tcp' ? '4096' : '0';
        const local = `0.0.0.0:${socket.port}`;
        const netid = flags.includes('u') && flags.includes('t') ? `${socket.proto.padEnd(6)} ` : '';
        return `${netid}${state.padEnd(6)} 0      ${queue.padEnd(6)} ${local.padStart(20)} ${'0.0.0.0:*'.padStart(17)}`;
      });
    const header = `${flags.includes('u') && flags.includes('t') ? 'Netid  ' : ''}State  Recv-Q Send-Q        Local Address:Port         Peer Address:PortProcess`;
    return { stdout: `${[header, ...rows].join('\n')}\n` };
  };
}
