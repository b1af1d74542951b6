/**
 * System tools every image ships that provisioning scripts reach for: `openssl rand`, `sysctl` and
 * `iptables`. Kernel parameters are remembered per machine (on its disk record); the packet model
 * reads the forwarding switches from them. The guest's own iptables rules are only recorded (every
 * command a guest runs is a guest effect). `ip` lives in ip-tool.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Command, CommandOutcome, Invocation } from '../shell/interpreter';
import { VirtualFsError } from '../shell/virtual-fs';
import type { GuestMachine } from './guest-machine';

/** `openssl rand [-base64|-hex] N`: real random bytes (only `rand` is simulated). */
function openssl({ argv }: Invocation): CommandOutcome {
  if (argv[1] !== 'rand') return { stderr: `openssl: only "rand" is simulated, not ${argv[1] ?? '(none)'}\n`, code: 1 };
  const count = Number(argv.at(-1));
  if (!Number.isInteger(count) || count < 0) return { stderr: `rand: Invalid number "${argv.at(-1)}"\n`, code: 1 };
  const bytes = randomBytes(count);
  if (argv.includes('-base64')) return { stdout: `${bytes.toString('base64')}\n` };
  if (argv.includes('-hex')) return { stdout: `${bytes.toString('hex')}\n` };
  return { stdout: bytes.toString('latin1') };
}

/** `key = value` lines of a sysctl.d file, comments and blanks skipped. */
function parseSysctlFile(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#') && !line.startsWith(';') && line.includes('='))
    .map((line) => {
      const equals = line.indexOf('=');
      return [line.slice(0, equals).trim(), line.slice(equals + 1).trim()];
    });
}

/** The files `sysctl --system` reads, in its order (sysctl.d by name, then /etc/sysctl.conf). */
function systemFiles(machine: GuestMachine): string[] {
  const dropIns = ['/usr/lib/sysctl.d', '/run/sysctl.d', '/etc/sysctl.d'].flatMap((dir) =>
    machine.fs.stat(dir)?.type === 'dir'
      ? machine.fs
          .readdir(dir)
          .filter((name) => name.endsWith('.conf'))
          .map((name) => `${dir}/${name}`)
      : [],
  );
  dropIns.sort((a, b) => a.slice(a.lastIndexOf('/')).localeCompare(b.slice(b.lastIndexOf('/'))));
  return machine.fs.stat('/etc/sysctl.conf') ? [...dropIns, '/etc/sysctl.conf'] : dropIns;
}

/** `net/ipv4/ip_forward` and `net.ipv4.ip_forward` name the same parameter. */
const normalKey = (key: string) => key.replaceAll('/', '.');
const forwardingKeys = ['net.ipv4.ip_forward', 'net.ipv4.conf.all.forwarding'];
const perInterfaceForwarding = /^net\.ipv4\.conf\.([^.]+)\.forwarding$/;

/**
 * Sets a kernel parameter as the kernel does: `ip_forward` and `conf.all.forwarding` are one
 * switch, and setting it sets every interface's `forwarding` too (so theirs are forgotten here).
 */
function setParameter(machine: GuestMachine, key: string, value: string): void {
  if (!forwardingKeys.includes(key)) {
    machine.kernelParameters.set(key, value);
    return;
  }
  for (const name of [...machine.kernelParameters.keys()]) {
    const nic = perInterfaceForwarding.exec(name)?.[1];
    if (nic && nic !== 'all' && nic !== 'default') machine.kernelParameters.delete(name);
  }
  for (const name of forwardingKeys) machine.kernelParameters.set(name, value);
}

/** A parameter's value (unset ones read as 0; an interface's `forwarding` follows `ip_forward`). */
function readParameter(machine: GuestMachine, key: string): string {
  const value = machine.kernelParameters.get(key);
  if (value !== undefined) return value;
  if (forwardingKeys.includes(key) || perInterfaceForwarding.test(key)) {
    return machine.kernelParameters.get('net.ipv4.ip_forward') ?? '0';
  }
  return '0';
}

function sysctl(machine: GuestMachine, { argv, shell }: Invocation): CommandOutcome {
  const args = argv.slice(1);
  const apply = (pairs: Array<[string, string]>): string => {
    for (const [key, value] of pairs) setParameter(machine, normalKey(key), value);
    return pairs.map(([key, value]) => `${normalKey(key)} = ${value}\n`).join('');
  };
  const writes =
    args[0] === '--system' || args[0] === '-p' || args[0] === '-w' || args.some((arg) => arg.includes('='));
  if (writes && shell.user !== 'root') return { stderr: 'sysctl: permission denied on key\n', code: 1 };
  if (args[0] === '--system') {
    const stdout = systemFiles(machine)
      .map((path) => `* Applying ${path} ...\n${apply(parseSysctlFile(machine.fs.readFile(path).toString()))}`)
      .join('');
    return { stdout };
  }
  if (args[0] === '-p') {
    const path = args[1] ?? '/etc/sysctl.conf';
    try {
      return { stdout: apply(parseSysctlFile(machine.fs.readFile(shell.resolve(path)).toString())) };
    } catch (error) {
      if (error instanceof VirtualFsError)
        return { stderr: `sysctl: cannot open "${path}": ${error.reason}\n`, code: 255 };
      throw error;
    }
  }
  const keys = args.filter((arg) => !arg.startsWith('-'));
  return {
    stdout: keys
      .map((key) => {
        if (key.includes('=')) return apply(parseSysctlFile(key));
        return `${normalKey(key)} = ${readParameter(machine, normalKey(key))}\n`;
      })
      .join(''),
  };
}

/** `iptables`: listing answers nothing, changing needs root and is only recorded (the guest's own firewall is not modelled). */
function iptablesTool(name: string): Command {
  return ({ argv, shell }) => {
    const readOnly = argv.some((arg) => /^-(L|S|-list)/.test(arg));
    if (!readOnly && shell.user !== 'root')
      return { stderr: `${name}: Permission denied (you must be root)\n`, code: 4 };
    return {};
  };
}

export function systemTools(machine: GuestMachine): Record<string, Command> {
  return {
    openssl,
    sysctl: (invocation) => sysctl(machine, invocation),
    iptables: iptablesTool('iptables'),
    ip6tables: iptablesTool('ip6tables'),
  };
}
