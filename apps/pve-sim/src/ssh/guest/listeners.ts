/**
 * Which sockets a guest listens on, from its running services: the daemons packages install
 * (sshd on the guest SSH port, 22 unless the simulator is told otherwise, a web server on 80,
 * PostgreSQL on 5432…), and units an administrator wrote or
 * started with `systemd-run` whose command is a known listener (`nc -l -p 8080`, `socat
 * TCP-LISTEN:9000`, `python3 -m http.server 8000`…), plus foreground `nc -l` runs.
 */
import type { GuestMachine } from './guest-machine';

export type Socket = { proto: 'tcp' | 'udp'; port: number };

const tcp = (...ports: number[]): Socket[] => ports.map((port) => ({ proto: 'tcp', port }));
const udp = (...ports: number[]): Socket[] => ports.map((port) => ({ proto: 'udp', port }));

/** Services (systemd unit names) → the sockets their daemon opens with the package's defaults. */
const serviceSockets: Record<string, Socket[]> = {
  apache2: tcp(80),
  nginx: tcp(80),
  lighttpd: tcp(80),
  mysql: tcp(3306),
  mariadb: tcp(3306),
  postgresql: tcp(5432),
  named: [...tcp(53), ...udp(53)],
  bind9: [...tcp(53), ...udp(53)],
  smbd: tcp(139, 445),
  nmbd: udp(137, 138),
  'samba-ad-dc': [...tcp(53, 88, 135, 139, 389, 445, 464, 636, 3268, 3269), ...udp(53, 88, 137, 138, 389, 464)],
  vsftpd: tcp(21),
  proftpd: tcp(21),
  'redis-server': tcp(6379),
  memcached: tcp(11211),
  mongod: tcp(27017),
  tomcat9: tcp(8080),
  tomcat10: tcp(8080),
  jenkins: tcp(8080),
  postfix: tcp(25),
  exim4: tcp(25),
  dovecot: tcp(110, 143),
  snmpd: udp(161),
  xrdp: tcp(3389),
  squid: tcp(3128),
  'openbsd-inetd': tcp(23),
  slapd: tcp(389),
  cups: tcp(631),
  rpcbind: [...tcp(111), ...udp(111)],
  'nfs-server': tcp(2049),
  'tftpd-hpa': udp(69),
  'isc-dhcp-server': udp(67),
  rsync: tcp(873),
  webmin: tcp(10000),
  'grafana-server': tcp(3000),
  elasticsearch: tcp(9200),
  'docker-registry': tcp(5000),
};

/** Where unit files live, transient ones (systemd-run) first. */
const unitDirectories = [
  '/run/systemd/transient',
  '/etc/systemd/system',
  '/lib/systemd/system',
  '/usr/lib/systemd/system',
];

/** The socket a listener command line opens, if it is one the simulation knows. */
export function commandSocket(argv: string[]): Socket | undefined {
  const name = argv[0]?.split('/').pop() ?? '';
  if (['nc', 'netcat', 'ncat', 'nc.openbsd', 'nc.traditional'].includes(name)) {
    const flags = argv.filter((arg) => /^-[a-zA-Z]+$/.test(arg)).join('');
    if (!flags.includes('l')) return undefined;
    const portFlag = argv.indexOf('-p');
    const port = Number(portFlag >= 0 ? argv[portFlag + 1] : argv.filter((arg) => /^\d+$/.test(arg)).pop());
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
    return { proto: flags.includes('u') ? 'udp' : 'tcp', port };
  }
  if (name === 'socat') {
    const listen = argv.map((arg) => /^(TCP|TCP4|TCP6|UDP|UDP4|UDP6)-LISTEN:(\d+)/i.exec(arg)).find(Boolean);
    return listen
      ? { proto: listen[1]!.toLowerCase().startsWith('udp') ? 'udp' : 'tcp', port: Number(listen[2]) }
      : undefined;
  }
  if (/^python[0-9.]*$/.test(name) && argv[1] === '-m' && ['http.server', 'SimpleHTTPServer'].includes(argv[2] ?? '')) {
    const port = argv.slice(3).find((arg) => /^\d+$/.test(arg));
    return { proto: 'tcp', port: port ? Number(port) : 8000 };
  }
  if (/^php[0-9.]*$/.test(name) && argv[1] === '-S') {
    const port = /:(\d+)$/.exec(argv[2] ?? '')?.[1];
    return port ? { proto: 'tcp', port: Number(port) } : undefined;
  }
  if (name === 'busybox' && argv[1] === 'httpd') {
    const port = argv.indexOf('-p');
    return { proto: 'tcp', port: port >= 0 ? Number(argv[port + 1]) : 80 };
  }
  return undefined;
}

/** The `ExecStart=` command of a unit file the guest holds, split into words. */
function unitCommand(machine: GuestMachine, unit: string): string[] | undefined {
  for (const dir of unitDirectories) {
    const path = `${dir}/${unit}.service`;
    if (machine.fs.stat(path)?.type !== 'file') continue;
    const line = machine.fs
      .readFile(path)
      .toString()
      .split('\n')
      .find((text) => /^\s*ExecStart\s*=/.test(text));
    if (!line) return undefined;
    const command = line
      .slice(line.indexOf('=') + 1)
      .trim()
      .replace(/^[-@+!:]+/, '');
    return command.split(/\s+/).filter(Boolean);
  }
  return undefined;
}

/** The units of OpenSSH's server, which listens where the simulator serves guests' SSH. */
const sshUnits = ['ssh', 'sshd'];

/**
 * Every socket the guest's running services listen on. `sshPort`: the port the simulator's SSH
 * side serves the guest on (`PVE_SIM_GUEST_SSH_PORT`), which is where its sshd listens.
 */
export function listeningSockets(machine: GuestMachine, sshPort = 22): Socket[] {
  const sockets: Socket[] = [];
  for (const [unit, state] of machine.services) {
    if (!state.active) continue;
    const command = unitCommand(machine, unit);
    const fromCommand = command ? commandSocket(command) : undefined;
    if (fromCommand) sockets.push(fromCommand);
    else if (sshUnits.includes(unit)) sockets.push({ proto: 'tcp', port: sshPort });
    else sockets.push(...(serviceSockets[unit] ?? []));
  }
  return sockets;
}
