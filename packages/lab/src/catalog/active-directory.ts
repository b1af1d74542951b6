import type { LabCatalogEntry } from './types';

const realm = 'CORP.LAB';
const dcAddress = '10.20.0.10';

const krb5Conf = `[libdefaults]
  default_realm = ${realm}
  dns_lookup_realm = false
  dns_lookup_kdc = true
`;

// Point systemd-resolved at the domain controller so SRV lookups for the domain work.
const resolvedDropIn = `[Resolve]
DNS=${dcAddress}
Domains=corp.lab
`;

// The administrator password is generated on the DC and kept there (root-only), never in the spec.
const provisionDomain = `set -eu
pass="$(openssl rand -base64 24)Aa1"
umask 077
printf '%s\\n' "$pass" > /root/administrator-password
samba-tool domain provision --realm=${realm} --domain=CORP --server-role=dc --dns-backend=SAMBA_INTERNAL \\
  --host-ip=${dcAddress} --adminpass="$pass"`;

// A handful of users, and a service account with an SPN for Kerberoasting exercises.
const seedDirectory = `set -eu
for user in alice bob carol; do samba-tool user create "$user" --random-password; done
samba-tool group addmembers "Domain Admins" carol
samba-tool user create svc-sql --random-password
samba-tool spn add MSSQLSvc/db.corp.lab:1433 svc-sql`;

// What a domain member needs from its DC: DNS, Kerberos (and password changes), the RPC endpoint
// mapper and its dynamic range, LDAP and LDAPS, SMB (SYSVOL, netlogon) and the global catalog.
const domainServices = [
  'tcp/53',
  'udp/53',
  'tcp/88',
  'udp/88',
  'tcp/135',
  'tcp/389',
  'udp/389',
  'tcp/445',
  'tcp/464',
  'udp/464',
  'tcp/636',
  'tcp/3268-3269',
  'tcp/49152-65535',
];

export const activeDirectory: LabCatalogEntry = {
  id: 'ad-basics',
  title: 'Active Directory basics',
  description:
    'A Samba Active Directory domain controller (CORP.LAB) with users and a Kerberoastable service account, a domain workstation and a Kali attacker.',
  // Trainees work from here; their SSH keys go on it.
  parameters: { traineeVms: ['attacker'] },
  spec: {
    name: 'ad-basics',
    description: 'Samba AD domain CORP.LAB: enumeration, Kerberos and SPN exercises.',
    ttl: '8h',
    onFailure: 'fail',
    // Hosts on corp reach the DC's domain services and nothing else of each other.
    networks: [{ name: 'corp', cidr: '10.20.0.0/24', egress: 'deny', intra: 'deny' }],
    rules: [{ from: 'corp', to: 'dc', ports: domainServices }],
    vms: [
      {
        name: 'dc',
        os: 'ubuntu-22.04',
        cpus: 2,
        memoryMiB: 2048,
        diskGiB: 20,
        networks: [{ name: 'corp', ip: dcAddress }],
        cloudInit: { packages: ['samba', 'winbind', 'krb5-user', 'smbclient', 'ldb-tools', 'dnsutils'] },
        provision: [
          { run: 'systemctl disable --now systemd-resolved smbd nmbd winbind && systemctl mask smbd nmbd winbind' },
          { run: 'rm -f /etc/samba/smb.conf /etc/resolv.conf' },
          { run: provisionDomain },
          { run: 'cp /var/lib/samba/private/krb5.conf /etc/krb5.conf' },
          { file: { path: '/etc/resolv.conf', content: 'nameserver 127.0.0.1\nsearch corp.lab\n', mode: '0644' } },
          { run: 'systemctl unmask samba-ad-dc && systemctl enable --now samba-ad-dc' },
          { run: seedDirectory },
          { run: 'host -t SRV _ldap._tcp.corp.lab 127.0.0.1' },
        ],
      },
      {
        name: 'ws',
        os: 'ubuntu-22.04',
        networks: [{ name: 'corp', ip: '10.20.0.21' }],
        cloudInit: { packages: ['krb5-user', 'ldap-utils', 'smbclient', 'realmd', 'adcli'] },
        provision: [
          { file: { path: '/etc/krb5.conf', content: krb5Conf, mode: '0644' } },
          { file: { path: '/etc/systemd/resolved.conf.d/corp.conf', content: resolvedDropIn, mode: '0644' } },
          { run: 'systemctl restart systemd-resolved' },
        ],
        dependsOn: ['dc'],
      },
      {
        name: 'attacker',
        os: 'kali',
        cpus: 2,
        memoryMiB: 4096,
        networks: [{ name: 'corp', ip: '10.20.0.100' }],
        cloudInit: { packages: ['impacket-scripts', 'netexec', 'ldap-utils', 'smbclient', 'krb5-user', 'nmap'] },
        provision: [{ file: { path: '/etc/krb5.conf', content: krb5Conf, mode: '0644' } }],
        dependsOn: ['dc'],
      },
    ],
  },
};
