/**
 * Tools that packages bring, whose real effects live outside the filesystem (a database, DNS, a
 * directory service, packet capture). Once the package is installed, running one succeeds quietly
 * and is recorded like every command; before that it is `not found`, as on a fresh image.
 */
import type { Command } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';

/** Command → the packages any of which provides it. */
const providers: Record<string, string[]> = {
  mysql: ['mariadb-server', 'mariadb-client', 'mysql-server', 'mysql-client', 'default-mysql-client'],
  mariadb: ['mariadb-server', 'mariadb-client'],
  psql: ['postgresql', 'postgresql-client'],
  'samba-tool': ['samba'],
  smbclient: ['smbclient'],
  host: ['dnsutils', 'bind9-host', 'bind9-dnsutils'],
  dig: ['dnsutils', 'bind9-dnsutils'],
  nslookup: ['dnsutils', 'bind9-dnsutils'],
  nginx: ['nginx'],
  a2enmod: ['apache2'],
  a2ensite: ['apache2'],
  a2dissite: ['apache2'],
  apachectl: ['apache2'],
  php: ['php', 'php-cli'],
  tcpdump: ['tcpdump'],
  tshark: ['tshark'],
  suricata: ['suricata'],
  jq: ['jq'],
  nmap: ['nmap'],
  docker: ['docker.io', 'docker-ce'],
  ufw: ['ufw'],
  ldapsearch: ['ldap-utils'],
  kinit: ['krb5-user'],
};

export function packageTools(machine: GuestMachine): Record<string, Command> {
  return Object.fromEntries(
    Object.entries(providers).map(([name, packages]): [string, Command] => [
      name,
      () => {
        if (packages.some((pkg) => machine.packages.has(pkg))) return {};
        return { stderr: `sh: 1: ${name}: not found\n`, code: 127 };
      },
    ]),
  );
}
