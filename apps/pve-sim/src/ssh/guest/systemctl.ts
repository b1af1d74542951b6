/** `systemctl` inside a guest: unit state changes are recorded; units exist once their package is installed. */
import type { CommandOutcome, Invocation } from '../shell/interpreter';
import type { GuestMachine, ServiceState } from './guest-machine';

/** Units a package provides when they are not named after it (`openssh-server` → `ssh`). */
const unitsOfPackage: Record<string, string[]> = {
  'openssh-server': ['ssh'],
  'docker.io': ['docker'],
  'mysql-server': ['mysql'],
  'mariadb-server': ['mariadb'],
  samba: ['smbd', 'nmbd', 'samba-ad-dc'],
  winbind: ['winbind'],
  bind9: ['named'],
  postgresql: ['postgresql'],
};

const changeVerbs = ['enable', 'disable', 'start', 'stop', 'restart', 'reload', 'mask', 'unmask'] as const;
type ChangeVerb = (typeof changeVerbs)[number];

/** Where systemd looks for unit files an administrator or a package wrote. */
const unitDirectories = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];

function unitExists(machine: GuestMachine, unit: string): boolean {
  if (machine.services.has(unit)) return true;
  if (unitDirectories.some((dir) => machine.fs.stat(`${dir}/${unit}.service`)?.type === 'file')) return true;
  return [...machine.packages].some((pkg) => pkg === unit || unitsOfPackage[pkg]?.includes(unit));
}

function stateOf(machine: GuestMachine, unit: string): ServiceState {
  let state = machine.services.get(unit);
  if (!state) {
    state = { enabled: false, active: false, masked: false };
    machine.services.set(unit, state);
  }
  return state;
}

/** Why `verb` cannot apply to `unit`, in systemctl's words, or undefined. */
function refusal(machine: GuestMachine, verb: ChangeVerb, unit: string): CommandOutcome | undefined {
  if (verb === 'mask' || verb === 'unmask') return undefined;
  if (!unitExists(machine, unit)) {
    return verb === 'enable' || verb === 'disable'
      ? { stderr: `Failed to ${verb} unit: Unit file ${unit}.service does not exist.\n`, code: 1 }
      : { stderr: `Failed to ${verb} ${unit}.service: Unit ${unit}.service not found.\n`, code: 5 };
  }
  if (machine.services.get(unit)?.masked && verb !== 'stop' && verb !== 'disable') {
    return { stderr: `Failed to ${verb} ${unit}.service: Unit ${unit}.service is masked.\n`, code: 1 };
  }
  return undefined;
}

/** Applies one verb to one unit; returns what systemctl prints on stderr. */
function apply(machine: GuestMachine, verb: ChangeVerb, unit: string, now: boolean): string {
  const state = stateOf(machine, unit);
  let message = '';
  if (verb === 'mask') message = `Created symlink /etc/systemd/system/${unit}.service → /dev/null.\n`;
  if (verb === 'unmask' && state.masked) message = `Removed "/etc/systemd/system/${unit}.service".\n`;
  if (verb === 'enable' && !state.enabled) {
    message = `Created symlink /etc/systemd/system/multi-user.target.wants/${unit}.service → /lib/systemd/system/${unit}.service.\n`;
  }
  if (verb === 'mask' || verb === 'unmask') state.masked = verb === 'mask';
  else if (verb === 'enable' || verb === 'disable') state.enabled = verb === 'enable';
  else state.active = verb !== 'stop';
  if (now && (verb === 'enable' || verb === 'disable')) state.active = verb === 'enable';
  machine.note({ kind: 'service', name: unit, action: verb === 'reload' ? 'restart' : verb });
  if (now) machine.note({ kind: 'service', name: unit, action: verb === 'enable' ? 'start' : 'stop' });
  return message;
}

function change(machine: GuestMachine, verb: ChangeVerb, units: string[], now: boolean, user: string): CommandOutcome {
  if (units.length === 0) return { stderr: 'Too few arguments.\n', code: 1 };
  if (user !== 'root') return { stderr: `Failed to ${verb} unit: Access denied\n`, code: 1 };
  for (const unit of units) {
    const refused = refusal(machine, verb, unit);
    if (refused) return refused;
  }
  return { stderr: units.map((unit) => apply(machine, verb, unit, now)).join('') };
}

function query(machine: GuestMachine, verb: string | undefined, unit: string, quiet: boolean): CommandOutcome {
  const state = machine.services.get(unit);
  const say = (text: string) => (quiet ? '' : `${text}\n`);
  switch (verb) {
    case 'is-active':
      return { stdout: say(state?.active ? 'active' : 'inactive'), code: state?.active ? 0 : 3 };
    case 'is-enabled':
      if (!unitExists(machine, unit)) {
        return { stderr: `Failed to get unit file state for ${unit}.service: No such file or directory\n`, code: 1 };
      }
      if (state?.masked) return { stdout: say('masked'), code: 1 };
      return { stdout: say(state?.enabled ? 'enabled' : 'disabled'), code: state?.enabled ? 0 : 1 };
    case 'status': {
      if (!unitExists(machine, unit)) return { stderr: `Unit ${unit}.service could not be found.\n`, code: 4 };
      const loaded = `loaded (/lib/systemd/system/${unit}.service; ${state?.enabled ? 'enabled' : 'disabled'})`;
      const active = state?.active ? 'active (running)' : 'inactive (dead)';
      return {
        stdout: `● ${unit}.service\n     Loaded: ${loaded}\n     Active: ${active}\n`,
        code: state?.active ? 0 : 3,
      };
    }
    default:
      return { stderr: `Unknown command verb ${verb}.\n`, code: 1 };
  }
}

export function systemctl(machine: GuestMachine, { argv, shell }: Invocation): CommandOutcome {
  const flags = ['-q', '--quiet', '--no-pager', '--no-block', '--now'];
  const words = argv.slice(1).filter((arg) => !flags.includes(arg));
  const [verb, ...rest] = words;
  const units = rest.map((name) => name.replace(/\.service$/, ''));
  if (verb === 'daemon-reload') {
    return shell.user === 'root' ? {} : { stderr: 'Failed to reload daemon: Access denied\n', code: 1 };
  }
  if ((changeVerbs as readonly string[]).includes(verb ?? '')) {
    return change(machine, verb as ChangeVerb, units, argv.includes('--now'), shell.user);
  }
  // Queries answer one line per unit; the status is the worst of them.
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  const answers = (units.length > 0 ? units : ['']).map((unit) => query(machine, verb, unit, quiet));
  return {
    stdout: answers.map((answer) => answer.stdout ?? '').join(''),
    stderr: answers.map((answer) => answer.stderr ?? '').join(''),
    code: Math.max(...answers.map((answer) => answer.code ?? 0)),
  };
}
