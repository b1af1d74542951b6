/** `apt-get` / `apt` / `dpkg -s` inside a guest: package installs are recorded, never performed. */
import type { Command, CommandOutcome, Invocation } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';

const packageName = /^[a-z0-9][a-z0-9+.-]+$/;
const lockDenied = (file: string) =>
  `E: Could not open lock file ${file} - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock (${file}), are you root?\n`;

function parseAptArgs(args: string[]) {
  let assumeYes = false;
  const words: string[] = [];
  for (const arg of args) {
    if (arg === '--yes' || arg === '--assume-yes' || /^-[a-zA-Z]*y[a-zA-Z]*$/.test(arg)) assumeYes = true;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return { assumeYes, action: words[0], packages: words.slice(1).map((name) => name.replace(/=.*$/, '')) };
}

/** Packages whose maintainer scripts enable and start a daemon, and that daemon's unit. */
const DAEMON_UNITS: Record<string, string> = {
  nginx: 'nginx',
  apache2: 'apache2',
  lighttpd: 'lighttpd',
  postgresql: 'postgresql',
  'mariadb-server': 'mariadb',
  'mysql-server': 'mysql',
  'openssh-server': 'ssh',
  vsftpd: 'vsftpd',
  'redis-server': 'redis-server',
  postfix: 'postfix',
  snmpd: 'snmpd',
  xrdp: 'xrdp',
};

function install(machine: GuestMachine, packages: string[], assumeYes: boolean): CommandOutcome {
  const unknown = packages.find((name) => !packageName.test(name));
  let stdout = 'Reading package lists...\nBuilding dependency tree...\nReading state information...\n';
  if (unknown) return { stdout, stderr: `E: Unable to locate package ${unknown}\n`, code: 100 };
  const fresh = packages.filter((name) => !machine.packages.has(name));
  for (const name of packages.filter((name) => machine.packages.has(name))) {
    stdout += `${name} is already the newest version.\n`;
  }
  if (fresh.length > 0) {
    stdout += `The following NEW packages will be installed:\n  ${fresh.join(' ')}\n`;
    if (!assumeYes) return { stdout: `${stdout}Do you want to continue? [Y/n] Abort.\n`, code: 1 };
  }
  stdout += `0 upgraded, ${fresh.length} newly installed, 0 to remove and 0 not upgraded.\n`;
  for (const name of fresh) {
    machine.packages.add(name);
    machine.note({ kind: 'package-installed', name });
    stdout += `Setting up ${name} ...\n`;
    // As on Debian and Ubuntu, a daemon's package enables and starts its service when installed.
    const unit = DAEMON_UNITS[name];
    if (unit && !machine.services.has(unit)) {
      machine.services.set(unit, { enabled: true, active: true, masked: false });
      stdout += `Created symlink /etc/systemd/system/multi-user.target.wants/${unit}.service.\n`;
    }
  }
  return { stdout };
}

function remove(machine: GuestMachine, packages: string[]): CommandOutcome {
  let stdout = 'Reading package lists...\nBuilding dependency tree...\nReading state information...\n';
  for (const name of packages) {
    if (!machine.packages.delete(name)) {
      stdout += `Package '${name}' is not installed, so not removed\n`;
      continue;
    }
    machine.note({ kind: 'package-removed', name });
    stdout += `Removing ${name} ...\n`;
  }
  return { stdout };
}

function runApt(machine: GuestMachine, { argv, shell }: Invocation): CommandOutcome {
  const { assumeYes, action, packages } = parseAptArgs(argv.slice(1));
  const readOnly = action === undefined || ['list', 'show', 'policy', 'search'].includes(action);
  if (!readOnly && shell.user !== 'root') {
    const lock = action === 'update' ? '/var/lib/apt/lists/lock' : '/var/lib/dpkg/lock-frontend';
    return { stderr: lockDenied(lock), code: 100 };
  }
  switch (action) {
    case 'update':
      return {
        stdout: `Hit:1 ${machine.spec.os.aptSource} InRelease\nReading package lists...\n`,
      };
    case 'install':
      return install(machine, packages, assumeYes);
    case 'remove':
    case 'purge':
      return remove(machine, packages);
    case 'upgrade':
    case 'dist-upgrade':
    case 'full-upgrade':
    case 'autoremove':
    case 'clean':
      return { stdout: 'Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n' };
    case undefined:
      return { stderr: 'E: Invalid operation\n', code: 100 };
    default:
      return { stderr: `E: Invalid operation ${action}\n`, code: 100 };
  }
}

export function aptCommands(machine: GuestMachine): Record<string, Command> {
  return {
    'apt-get': (invocation) => runApt(machine, invocation),
    apt: (invocation) => {
      const outcome = runApt(machine, invocation);
      const warning = '\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n';
      return { ...outcome, stderr: warning + (outcome.stderr ?? '') };
    },
    dpkg: ({ argv }) => {
      const name = argv[2];
      if (argv[1] !== '-s' || !name) return { stderr: 'dpkg: only -s <package> is simulated\n', code: 2 };
      if (!machine.packages.has(name)) {
        return { stderr: `dpkg-query: package '${name}' is not installed and no information is available\n`, code: 1 };
      }
      return { stdout: `Package: ${name}\nStatus: install ok installed\n` };
    },
  };
}
