/**
 * Network tools inside a guest, answered by the packet model: `ping` (iputils), `nc` (OpenBSD
 * netcat on Ubuntu/Debian, netcat-traditional on Kali) to probe (`-z`), connect or listen
 * (`-l`, waiting in the foreground for a connection), and `systemd-run` to start a listener as a
 * transient unit in the background. Timeouts run on the simulator's time scale: `-w`/`-W` bound
 * them, else the kernel's (ARP 3 s, TCP SYN 127 s, ping's 10 s linger).
 */
import { serviceNames } from '../../network/firewall-catalog';
import type { Verdict } from '../../network/packet';
import type { Command, CommandOutcome, Invocation } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';
import { type GuestNet, netTimings, type Resolution } from './guest-network';

const serviceByPort = new Map(Object.entries(serviceNames).map(([name, port]) => [port, name]));

/** The values of single-letter options that take one (`-c 3`, `-c3`), the flags, and the operands. */
function parseOptions(argv: string[], valued: string): { values: Map<string, string>; flags: string; rest: string[] } {
  const values = new Map<string, string>();
  let flags = '';
  const rest: string[] = [];
  for (let index = 1; index < argv.length; index++) {
    const arg = argv[index]!;
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      rest.push(arg);
      continue;
    }
    for (let position = 1; position < arg.length; position++) {
      const flag = arg[position]!;
      if (valued.includes(flag)) {
        values.set(flag, arg.slice(position + 1) || (argv[++index] ?? ''));
        break;
      }
      flags += flag;
    }
  }
  return { values, flags, rest };
}

async function resolveTarget(net: GuestNet | undefined, machine: GuestMachine, host: string): Promise<Resolution> {
  if (net) return net.resolve(host, machine);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return { ip: host };
  return host === 'localhost' ? { ip: '127.0.0.1' } : { error: 'unavailable' };
}

/** Without a network (a machine outside the simulator), only loopback answers. */
function probe(net: GuestNet | undefined, proto: 'tcp' | 'udp' | 'icmp', dst: string, dport?: number): Verdict {
  if (net) return net.probe(dport === undefined ? { proto, dst } : { proto, dst, dport });
  if (dst.startsWith('127.')) return { outcome: proto === 'icmp' ? 'open' : 'refused', reason: 'loopback' };
  return { outcome: 'unreachable', unreachable: 'network', reason: 'no network' };
}

const wait = (net: GuestNet | undefined, ms: number) => (net ? net.wait(ms) : Promise.resolve());

/** How ping words an ICMP error a router sent back. */
const icmpErrorText: Record<NonNullable<Verdict['icmp']>['type'], string> = {
  'net-unreachable': 'Destination Net Unreachable',
  'host-unreachable': 'Destination Host Unreachable',
  'time-exceeded': 'Time to live exceeded',
};

function rtt(seq: number): string {
  return (0.35 + ((seq * 37) % 11) / 100).toFixed(3);
}

async function ping(machine: GuestMachine, net: GuestNet | undefined, { argv }: Invocation): Promise<CommandOutcome> {
  const { values, flags, rest } = parseOptions(argv, 'cWwisItQlp');
  const host = rest.at(-1);
  if (!host) return { stderr: 'ping: usage error: Destination address required\n', code: 2 };
  const resolved = await resolveTarget(net, machine, host);
  if ('error' in resolved) {
    const reason = resolved.error === 'unknown' ? 'Name or service not known' : 'Temporary failure in name resolution';
    return { stderr: `ping: ${host}: ${reason}\n`, code: 2 };
  }
  const ip = resolved.ip;
  const interval = Number(values.get('i') ?? 1);
  const deadline = values.has('w') ? Number(values.get('w')) : undefined;
  // Without -c ping runs until interrupted; here it stops after 4 (or at its -w deadline).
  const count = Number(values.get('c') ?? (deadline ? Math.max(1, Math.floor(deadline / interval)) : 4));
  const verdict = probe(net, 'icmp', ip);
  if (verdict.outcome === 'unreachable' && verdict.unreachable === 'network' && !verdict.icmp) {
    return { stderr: 'ping: connect: Network is unreachable\n', code: 2 };
  }
  const quiet = flags.includes('q');
  const label = host === ip ? ip : `${ip} (${ip})`;
  let stdout = `PING ${host} (${ip}) 56(84) bytes of data.\n`;
  const sendingMs = (count - 1) * interval * 1000;
  let received = 0;
  let errors = 0;
  let elapsed = sendingMs;
  if (verdict.outcome === 'open') {
    received = count;
    const ttl = verdict.ttl ?? 64;
    if (!quiet)
      for (let seq = 1; seq <= count; seq++)
        stdout += `64 bytes from ${label}: icmp_seq=${seq} ttl=${ttl} time=${rtt(seq)} ms\n`;
    await wait(net, sendingMs);
  } else if (verdict.outcome === 'unreachable') {
    // The sender's own neighbour lookup failing, or an ICMP error from a router on the way.
    errors = count;
    const from = verdict.icmp?.from ?? verdict.src;
    const what = verdict.icmp ? icmpErrorText[verdict.icmp.type] : 'Destination Host Unreachable';
    if (!quiet) for (let seq = 1; seq <= count; seq++) stdout += `From ${from} icmp_seq=${seq} ${what}\n`;
    const arp = verdict.unreachable === 'host' && verdict.icmp?.type !== 'time-exceeded';
    elapsed = arp ? Math.max(sendingMs, netTimings.arpTimeout) : sendingMs;
    await wait(net, elapsed);
  } else {
    const linger = Number(values.get('W') ?? 10) * 1000;
    elapsed = deadline !== undefined ? Math.min(deadline * 1000, sendingMs + linger) : sendingMs + linger;
    await wait(net, elapsed);
  }
  const loss = Math.round(((count - received) / count) * 100);
  stdout += `\n--- ${host} ping statistics ---\n`;
  stdout += `${count} packets transmitted, ${received} received, ${errors ? `+${errors} errors, ` : ''}${loss}% packet loss, time ${Math.round(sendingMs)}ms\n`;
  if (received > 0) {
    const times = Array.from({ length: count }, (_, index) => Number(rtt(index + 1)));
    const avg = times.reduce((sum, time) => sum + time, 0) / times.length;
    const mdev = Math.sqrt(times.reduce((sum, time) => sum + (time - avg) ** 2, 0) / times.length);
    stdout += `rtt min/avg/max/mdev = ${Math.min(...times).toFixed(3)}/${avg.toFixed(3)}/${Math.max(...times).toFixed(3)}/${mdev.toFixed(3)} ms\n`;
  } else if (errors > 0) {
    stdout += `pipe ${Math.min(count, 3)}\n`;
  }
  return { stdout, code: received > 0 ? 0 : 1 };
}

/** Ports of an nc operand list (`80`, `20-25`, `http`). */
function portsOf(operands: string[]): number[] | undefined {
  const ports: number[] = [];
  for (const operand of operands) {
    const range = /^(\d+)-(\d+)$/.exec(operand);
    if (range) for (let port = Number(range[1]); port <= Number(range[2]); port++) ports.push(port);
    else if (/^\d+$/.test(operand)) ports.push(Number(operand));
    else if (serviceNames[operand] !== undefined) ports.push(serviceNames[operand]);
    else return undefined;
  }
  return ports;
}

/** The banner an sshd sends, by the target guest's OS. */
const sshBanners: Record<string, string> = {
  'ubuntu-22.04': 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10',
  'ubuntu-24.04': 'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5',
  'debian-12': 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3',
  kali: 'SSH-2.0-OpenSSH_9.7p1 Debian-5',
};

interface NcStyle {
  traditional: boolean;
  host: string;
  ip: string;
  proto: 'tcp' | 'udp';
}

function ncMessage(style: NcStyle, port: number, outcome: 'open' | string): string {
  const service = serviceByPort.get(port);
  if (style.traditional) {
    const name = style.host === style.ip ? '(UNKNOWN)' : style.host;
    const suffix = outcome === 'open' ? 'open' : `: ${outcome}`;
    return `${name} [${style.ip}] ${port} (${service ?? '?'}) ${suffix}\n`;
  }
  if (outcome === 'open')
    return `Connection to ${style.host} ${port} port [${style.proto}/${service ?? '*'}] succeeded!\n`;
  return `nc: connect to ${style.host} port ${port} (${style.proto}) ${outcome}\n`;
}

async function ncListen(net: GuestNet | undefined, values: Map<string, string>, flags: string, rest: string[]) {
  const port = Number(values.get('p') ?? rest.at(-1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return { stderr: 'nc: missing port number\n', code: 1 };
  if (!net) return { stderr: 'nc: Address already in use\n', code: 1 };
  const proto = flags.includes('u') ? 'udp' : 'tcp';
  for (;;) {
    const { accepted } = net.network.listen(net.vmid, { proto, port });
    await accepted;
    if (!flags.includes('k')) return {};
  }
}

async function nc(machine: GuestMachine, net: GuestNet | undefined, invocation: Invocation): Promise<CommandOutcome> {
  const { values, flags, rest } = parseOptions(invocation.argv, 'wpqsiIOTVXxM');
  if (flags.includes('l')) return ncListen(net, values, flags, rest);
  const [host, ...portWords] = rest;
  const ports = portsOf(portWords);
  if (!host || !ports || ports.length === 0) {
    return {
      stderr: 'usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n\t  [destination] [port]\n',
      code: 1,
    };
  }
  const traditional = machine.spec.os.id === 'kali';
  const verbose = flags.includes('v');
  const resolved = await resolveTarget(net, machine, host);
  if ('error' in resolved) {
    const reason = resolved.error === 'unknown' ? 'Name or service not known' : 'Temporary failure in name resolution';
    const message = traditional
      ? `${host}: forward host lookup failed: Unknown host\n`
      : `nc: getaddrinfo for host "${host}" port ${ports[0]}: ${reason}\n`;
    return { stderr: message, code: 1 };
  }
  const proto = flags.includes('u') ? 'udp' : 'tcp';
  const style: NcStyle = { traditional, host, ip: resolved.ip, proto };
  const timeout = values.has('w') ? Number(values.get('w')) * 1000 : undefined;
  let stderr = '';
  let stdout = '';
  let connected = false;
  for (const port of ports) {
    const verdict = probe(net, proto, resolved.ip, port);
    // A UDP "connection" succeeds unless the network itself says no.
    const open = verdict.outcome === 'open' || (proto === 'udp' && verdict.outcome !== 'unreachable');
    if (open) {
      connected = true;
      if (verbose) stderr += ncMessage(style, port, 'open');
      const sshPort = net?.network.sshPort ?? 22;
      if (!flags.includes('z') && proto === 'tcp' && port === sshPort && verdict.peer?.kind === 'guest') {
        const target = net?.network.machine(verdict.peer.vmid);
        stdout += `${sshBanners[target?.spec.os.id ?? 'ubuntu-22.04']}\r\n`;
      }
      continue;
    }
    let failure: string;
    if (verdict.outcome === 'refused') failure = 'Connection refused';
    else if (verdict.outcome === 'unreachable' && verdict.unreachable === 'network') failure = 'Network is unreachable';
    else if (verdict.icmp?.type === 'time-exceeded') failure = 'No route to host';
    else {
      const limit = verdict.outcome === 'unreachable' ? netTimings.arpTimeout : netTimings.tcpConnectTimeout;
      await wait(net, timeout !== undefined ? Math.min(timeout, limit) : limit);
      if (timeout !== undefined && timeout < limit) failure = 'timed out: Operation now in progress';
      else failure = verdict.outcome === 'unreachable' ? 'No route to host' : 'Connection timed out';
    }
    const worded = traditional || failure.startsWith('timed out') ? failure : `failed: ${failure}`;
    if (verbose)
      stderr += ncMessage(
        style,
        port,
        traditional ? failure.replace(/^timed out: .*/, 'Connection timed out') : worded,
      );
  }
  if (!flags.includes('z') && connected) await invocation.readStdin();
  return { stdout, stderr, code: connected ? 0 : 1 };
}

/** `systemd-run [--unit=NAME] CMD…`: starts CMD as a transient service (root only). */
function systemdRun(machine: GuestMachine, { argv, shell }: Invocation): CommandOutcome {
  let unit: string | undefined;
  let index = 1;
  for (; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') {
      index++;
      break;
    }
    if (!arg.startsWith('-')) break;
    if (arg.startsWith('--unit=')) unit = arg.slice('--unit='.length);
    else if (arg === '--unit' || arg === '-u') unit = argv[++index];
    else if (['-p', '--property', '--description', '--slice', '--service-type', '-E', '--setenv'].includes(arg))
      index++;
  }
  const command = argv.slice(index);
  if (command.length === 0) return { stderr: 'Command line to execute required.\n', code: 1 };
  if (shell.user !== 'root') {
    return { stderr: 'Failed to start transient service unit: Interactive authentication required.\n', code: 1 };
  }
  const dir = '/run/systemd/transient';
  const existing = machine.fs.stat(dir)?.type === 'dir' ? machine.fs.readdir(dir).length : 0;
  const name = (unit ?? `run-u${existing + 12}`).replace(/\.service$/, '');
  if (machine.services.get(name)?.active) {
    return {
      stderr: `Failed to start transient service unit: Unit ${name}.service was already loaded or has a fragment file.\n`,
      code: 1,
    };
  }
  machine.fs.mkdir(dir, { recursive: true });
  const line = command.join(' ');
  machine.fs.writeFile(
    `${dir}/${name}.service`,
    `# This is a transient unit file, created programmatically via the systemd API. Do not edit.\n[Unit]\nDescription=${line}\n\n[Service]\nExecStart=${line}\n`,
  );
  machine.services.set(name, { enabled: false, active: true, masked: false });
  machine.note({ kind: 'service', name, action: 'start' });
  return { stderr: `Running as unit: ${name}.service\n` };
}

export function netTools(machine: GuestMachine, net: GuestNet | undefined): Record<string, Command> {
  const netcat: Command = (invocation) => nc(machine, net, invocation);
  return {
    ping: (invocation) => ping(machine, net, invocation),
    nc: netcat,
    netcat,
    'systemd-run': (invocation) => systemdRun(machine, invocation),
  };
}
