/**
 * Tools that packages bring, whose real effects live outside the filesystem (a database, DNS, a
 * directory service, packet capture). Once the package is installed, running one succeeds quietly
 * and is recorded like every command; before that it is `not found`, as on a fresh image.
 */
import type { Command, Invocation } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';

/**
 * The files a tool leaves behind that later provisioning reads: `samba-tool domain provision`
 * writes the Kerberos configuration for the new realm, which scripts copy to /etc/krb5.conf.
 */
const fileEffects: Record<string, (invocation: Invocation) => void> = {
  'samba-tool': ({ argv, shell }) => {
    if (argv[1] !== 'domain' || argv[2] !== 'provision') return;
    const realm = argv
      .find((arg) => arg.startsWith('--realm='))
      ?.slice('--realm='.length)
      .toUpperCase();
    if (!realm) return;
    const krb5 = `[libdefaults]\n\tdefault_realm = ${realm}\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = true\n`;
    shell.fs.mkdir('/var/lib/samba/private', { recursive: true });
    shell.writeFile('/var/lib/samba/private/krb5.conf', krb5);
  },
};

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
      (invocation) => {
        if (packages.some((pkg) => machine.packages.has(pkg))) {
          fileEffects[name]?.(invocation);
          return {};
        }
        return { stderr: `sh: 1: ${name}: not found\n`, code: 127 };
      },
    ]),
  );
}
