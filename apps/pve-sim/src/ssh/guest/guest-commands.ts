/** The command table of a guest's shell: coreutils, apt, systemctl, cloud-init, sudo, uname, hostname. */
import { builtins } from '../shell/builtins';
import { fileCommands } from '../shell/file-commands';
import type { Command, CommandOutcome, Invocation } from '../shell/interpreter';
import { textCommands } from '../shell/text-commands';
import { aptCommands } from './apt';
import type { GuestMachine } from './guest-machine';

/** Units a package provides when its name is not the unit's (`openssh-server` → `ssh`). */
const unitsOfPackage: Record<string, string> = {
  'openssh-server': 'ssh',
  'docker.io': 'docker',
  'mysql-server': 'mysql',
  'mariadb-server': 'mariadb',
  'redis-server': 'redis-server',
  samba: 'smbd',
  bind9: 'named',
  'isc-dhcp-server': 'isc-dhcp-server',
};

function unitName(name: string): string {
  return name.replace(/\.service$/, '');
}

function unitExists(machine: GuestMachine, unit: string): boolean {
  if (machine.services.has(unit)) return true;
  return [...machine.packages].some((pkg) => pkg === unit || unitsOfPackage[pkg] === unit);
}

function serviceState(machine: GuestMachine, unit: string) {
  let state = machine.services.get(unit);
  if (!state) {
    state = { enabled: false, active: false };
    machine.services.set(unit, state);
  }
  return state;
}

const changeVerbs = ['enable', 'disable', 'start', 'stop', 'restart', 'reload'] as const;
type ChangeVerb = (typeof changeVerbs)[number];

function changeUnits(
  machine: GuestMachine,
  verb: ChangeVerb,
  units: string[],
  now: boolean,
  user: string,
): CommandOutcome {
  if (user !== 'root') return { stderr: `Failed to ${verb} unit: Access denied\n`, code: 1 };
  for (const unit of units) {
    if (!unitExists(machine, unit)) {
      return verb === 'enable' || verb === 'disable'
        ? { stderr: `Failed to ${verb} unit: Unit file ${unit}.service does not exist.\n`, code: 1 }
        : { stderr: `Failed to ${verb} ${unit}.service: Unit ${unit}.service not found.\n`, code: 5 };
    }
  }
  let stderr = '';
  for (const unit of units) {
    const state = serviceState(machine, unit);
    const action = verb === 'reload' ? 'restart' : verb;
    if (verb === 'enable' || verb === 'disable') {
      if (verb === 'enable' && !state.enabled) {
        stderr += `Created symlink /etc/systemd/system/multi-user.target.wants/${unit}.service → /lib/systemd/system/${unit}.service.\n`;
      }
      state.enabled = verb === 'enable';
      if (now) state.active = verb === 'enable';
    } else {
      state.active = verb !== 'stop';
    }
    machine.note({ kind: 'service', name: unit, action });
    if (now) machine.note({ kind: 'service', name: unit, action: verb === 'enable' ? 'start' : 'stop' });
  }
  return { stderr };
}

function systemctl(machine: GuestMachine, { argv, shell }: Invocation): CommandOutcome {
  const args = argv.slice(1).filter((arg) => !['-q', '--quiet', '--no-pager', '--no-block'].includes(arg));
  const now = args.includes('--now');
  const [verb, ...rest] = args.filter((arg) => arg !== '--now');
  const units = rest.map(unitName);
  if (verb === 'daemon-reload')
    return shell.user === 'root' ? {} : { stderr: 'Failed to reload daemon: Access denied\n', code: 1 };
  if ((changeVerbs as readonly string[]).includes(verb ?? '')) {
    if (units.length === 0) return { stderr: `Too few arguments.\n`, code: 1 };
    return changeUnits(machine, verb as ChangeVerb, units, now, shell.user);
  }
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  const unit = units[0] ?? '';
  const state = machine.services.get(unit);
  switch (verb) {
    case 'is-active':
      return { stdout: quiet ? '' : `${state?.active ? 'active' : 'inactive'}\n`, code: state?.active ? 0 : 3 };
    case 'is-enabled':
      if (!unitExists(machine, unit))
        return { stderr: `Failed to get unit file state for ${unit}.service: No such file or directory\n`, code: 1 };
      return { stdout: quiet ? '' : `${state?.enabled ? 'enabled' : 'disabled'}\n`, code: state?.enabled ? 0 : 1 };
    case 'status':
      if (!unitExists(machine, unit)) return { stderr: `Unit ${unit}.service could not be found.\n`, code: 4 };
      return {
        stdout: `● ${unit}.service\n     Loaded: loaded (/lib/systemd/system/${unit}.service; ${state?.enabled ? 'enabled' : 'disabled'})\n     Active: ${state?.active ? 'active (running)' : 'inactive (dead)'}\n`,
        code: state?.active ? 0 : 3,
      };
    default:
      return { stderr: `Unknown command verb ${verb}.\n`, code: 1 };
  }
}

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
  const env: Record<string, string> = {};
  while (/^[A-Za-z_]\w*=/.test(argv[index] ?? '')) {
    const [name, ...value] = argv[index++]!.split('=');
    env[name!] = value.join('=');
  }
  const command = argv.slice(index);
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

export function guestCommands(machine: GuestMachine): Record<string, Command> {
  return {
    ...builtins,
    ...fileCommands,
    ...textCommands,
    ...aptCommands(machine),
    systemctl: (invocation) => systemctl(machine, invocation),
    sudo,
    uname: (invocation) => uname(machine, invocation),
    hostname: () => ({ stdout: `${machine.spec.hostname}\n` }),
    'cloud-init': ({ argv }) => {
      if (argv[1] === '--version') return { stdout: '/usr/bin/cloud-init 24.1.3\n' };
      if (argv[1] !== 'status') return { stderr: `cloud-init: unsupported sub-command ${argv[1] ?? ''}\n`, code: 2 };
      const long = argv.includes('--long') ? 'extended_status: done\nboot_status_code: enabled-by-generator\n' : '';
      return { stdout: `status: done\n${long}` };
    },
  };
}
