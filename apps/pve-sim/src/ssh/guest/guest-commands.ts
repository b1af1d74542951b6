/** The command table of a guest's shell: coreutils, apt, systemctl, curl, ip, ping, nc, ss, sysctl, openssl, cloud-init, sudo, env, uname, hostname. */
import { builtins, leadingAssignments } from '../shell/builtins';
import { fileCommands } from '../shell/file-commands';
import type { Command, CommandOutcome, Invocation } from '../shell/interpreter';
import { simulatedTime, sleepCommand } from '../shell/sleep';
import { textCommands } from '../shell/text-commands';
import { aptCommands } from './apt';
import { curl } from './curl';
import type { GuestMachine } from './guest-machine';
import type { GuestNet } from './guest-network';
import { ipCommand, ssCommand } from './ip-tool';
import { netTools } from './net-tools';
import { packageTools } from './package-tools';
import { systemTools } from './system-tools';
import { systemctl } from './systemctl';

/** `sudo [-n] [-E] [-H] [-u user] cmd…`: the cloud-init user has passwordless sudo. */
async function sudo({ argv, shell, readStdin }: Invocation): Promise<CommandOutcome> {
  let index = 1;
  let user = 'root';
  while (argv[index]?.startsWith('-')) {
    if (argv[index] === '-u') user = argv[++index] ?? 'root';
    else if (argv[index] === '--') {
      index++;
      break;
    }
    index++;
  }
  // `sudo VAR=value cmd` sets VAR for cmd, as sudo's own argument parsing allows.
  const { assignments: env, index: commandStart } = leadingAssignments(argv, index);
  const command = argv.slice(commandStart);
  if (command.length === 0) return { stderr: 'usage: sudo [-n] [-u user] command [arg ...]\n', code: 1 };
  return shell.as(user).execute(command, readStdin, env);
}

function uname(machine: GuestMachine, { argv }: Invocation): CommandOutcome {
  const flags = argv.slice(1).join('');
  const parts = {
    s: 'Linux',
    n: machine.spec.hostname,
    r: machine.spec.os.kernelRelease,
    v: machine.spec.os.kernelVersion,
    m: 'x86_64',
  };
  if (flags.includes('a')) {
    return { stdout: `${Object.values(parts).join(' ')} x86_64 x86_64 GNU/Linux\n` };
  }
  const chosen = (['s', 'n', 'r', 'v', 'm'] as const).filter((flag) => flags.includes(flag));
  return { stdout: `${(chosen.length > 0 ? chosen : ['s' as const]).map((flag) => parts[flag]).join(' ')}\n` };
}

/** `net`: the guest's network (absent for a machine outside a simulator: only loopback answers). */
export function guestCommands(machine: GuestMachine, net?: GuestNet): Record<string, Command> {
  return {
    ...builtins,
    ...fileCommands,
    ...textCommands,
    ...packageTools(machine),
    ...aptCommands(machine),
    ...systemTools(machine),
    ...netTools(machine, net),
    ip: ipCommand(machine, net),
    ss: ssCommand(machine, net),
    curl: (invocation) => curl(machine, invocation, net),
    systemctl: (invocation) => systemctl(machine, invocation),
    sudo,
    uname: (invocation) => uname(machine, invocation),
    hostname: () => ({ stdout: `${machine.spec.hostname}\n` }),
    // A guest's time is the simulator's (scaled); one outside a simulator sleeps in real time.
    ...(net ? { sleep: sleepCommand(simulatedTime(net.network.sim.clock.timeScale)) } : {}),
    'cloud-init': ({ argv }) => {
      if (argv[1] === '--version') return { stdout: '/usr/bin/cloud-init 24.1.3\n' };
      if (argv[1] !== 'status') return { stderr: `cloud-init: unsupported sub-command ${argv[1] ?? ''}\n`, code: 2 };
      const long = argv.includes('--long') ? 'extended_status: done\nboot_status_code: enabled-by-generator\n' : '';
      return { stdout: `status: done\n${long}` };
    },
  };
}
