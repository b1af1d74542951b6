/**
 * The names a PVE firewall rule may use: its macros (which protocol/ports each stands for), the
 * `/etc/services` names a port spec accepts, the `/etc/protocols` names a `proto` accepts, and
 * the ICMP type names. Port and protocol numbers are the IANA assignments PVE's tables carry;
 * the service list is the common subset of Debian's `/etc/services` (a name outside it is
 * refused as `invalid port`, as PVE refuses names its host does not know).
 */

/** One line of a macro: protocol, then optional destination and source port specs. */
export interface MacroLine {
  proto: string;
  dport?: string;
  sport?: string;
}

/**
 * Every macro of pve-firewall, each as `proto[ dport][ sport=spec]` lines; `only` marks the
 * macros that exist for one IP version.
 */
const macroTable: Record<string, { lines: string[]; only?: 4 | 6 }> = {
  Amanda: { lines: ['udp 10080', 'tcp 10080'] },
  Auth: { lines: ['tcp 113'] },
  BGP: { lines: ['tcp 179'] },
  BitTorrent: { lines: ['tcp 6881:6889', 'udp 6881'] },
  BitTorrent32: { lines: ['tcp 6881:6999', 'udp 6881'] },
  Ceph: { lines: ['tcp 6789', 'tcp 3300', 'tcp 6800:7300'] },
  Citrix: { lines: ['tcp 1494', 'udp 1604', 'tcp 2598'] },
  CVS: { lines: ['tcp 2401'] },
  DAAP: { lines: ['tcp 3689', 'udp 3689'] },
  DCC: { lines: ['tcp 6277'] },
  DHCPfwd: { lines: ['udp 67:68 sport=67:68'] },
  DHCPv6: { lines: ['udp 546:547 sport=546:547'], only: 6 },
  Distcc: { lines: ['tcp 3632'] },
  DNS: { lines: ['udp 53', 'tcp 53'] },
  Finger: { lines: ['tcp 79'] },
  FTP: { lines: ['tcp 21'] },
  Git: { lines: ['tcp 9418'] },
  GNUnet: { lines: ['tcp 2086', 'udp 2086', 'tcp 1080', 'udp 1080'] },
  GRE: { lines: ['47'] },
  HKP: { lines: ['tcp 11371'] },
  HTTP: { lines: ['tcp 80'] },
  HTTPS: { lines: ['tcp 443'] },
  ICPV2: { lines: ['udp 3130'] },
  ICQ: { lines: ['tcp 5190'] },
  IMAP: { lines: ['tcp 143'] },
  IMAPS: { lines: ['tcp 993'] },
  IPIP: { lines: ['94'] },
  IPsec: { lines: ['udp 500 sport=500', '50'] },
  IPsecah: { lines: ['udp 500 sport=500', '51'] },
  IPsecnat: { lines: ['udp 500', 'udp 4500', '50'] },
  IRC: { lines: ['tcp 6667'] },
  Jetdirect: { lines: ['tcp 9100'] },
  L2TP: { lines: ['udp 1701'] },
  LDAP: { lines: ['tcp 389'] },
  LDAPS: { lines: ['tcp 636'] },
  Mail: { lines: ['tcp 25', 'tcp 465', 'tcp 587'] },
  MDNS: { lines: ['udp 5353'] },
  MSNP: { lines: ['tcp 1863'] },
  MSSQL: { lines: ['tcp 1433'] },
  Munin: { lines: ['tcp 4949'] },
  MySQL: { lines: ['tcp 3306'] },
  NeighborDiscovery: {
    lines: [
      'icmpv6 router-solicitation',
      'icmpv6 router-advertisement',
      'icmpv6 neighbor-solicitation',
      'icmpv6 neighbor-advertisement',
    ],
    only: 6,
  },
  NNTP: { lines: ['tcp 119'] },
  NNTPS: { lines: ['tcp 563'] },
  NTP: { lines: ['udp 123'] },
  OpenVPN: { lines: ['udp 1194'] },
  OSPF: { lines: ['89'] },
  PCA: { lines: ['udp 5632', 'tcp 5631'] },
  Ping: { lines: ['icmp echo-request'] },
  PMG: { lines: ['tcp 8006'] },
  POP3: { lines: ['tcp 110'] },
  POP3S: { lines: ['tcp 995'] },
  PostgreSQL: { lines: ['tcp 5432'] },
  PPtP: { lines: ['47', 'tcp 1723'] },
  Printer: { lines: ['tcp 515'] },
  Razor: { lines: ['tcp 2703'] },
  Rdate: { lines: ['tcp 37'] },
  RDP: { lines: ['tcp 3389'] },
  RIP: { lines: ['udp 520'] },
  RNDC: { lines: ['tcp 953'] },
  Rsync: { lines: ['tcp 873'] },
  SANE: { lines: ['tcp 6566'] },
  SixXS: { lines: ['tcp 3874', 'udp 3740', '41', 'udp 5072,8374'] },
  SMB: { lines: ['udp 135,445', 'udp 137:139', 'udp 1024:65535 sport=137', 'tcp 135,139,445'] },
  SMBswat: { lines: ['tcp 901'] },
  SMTP: { lines: ['tcp 25'] },
  SMTPS: { lines: ['tcp 465'] },
  SNMP: { lines: ['udp 161:162', 'tcp 161'] },
  SPAMD: { lines: ['tcp 783'] },
  SPICEproxy: { lines: ['tcp 3128'] },
  Squid: { lines: ['tcp 3128'] },
  SSH: { lines: ['tcp 22'] },
  Submission: { lines: ['tcp 587'] },
  SVN: { lines: ['tcp 3690'] },
  Syslog: { lines: ['udp 514', 'tcp 514'] },
  Telnet: { lines: ['tcp 23'] },
  Telnets: { lines: ['tcp 992'] },
  TFTP: { lines: ['udp 69'] },
  Time: { lines: ['tcp 37'] },
  Trcrt: { lines: ['udp 33434:33524', 'icmp echo-request'] },
  VNC: { lines: ['tcp 5900:5999'] },
  VNCL: { lines: ['tcp 5500'] },
  Web: { lines: ['tcp 80', 'tcp 443'] },
  Webcache: { lines: ['tcp 8080'] },
  Webmin: { lines: ['tcp 10000'] },
  Whois: { lines: ['tcp 43'] },
};

const macrosByLowerName = new Map(Object.keys(macroTable).map((name) => [name.toLowerCase(), name]));

/** The macro's canonical spelling (PVE matches macro names case-insensitively), or undefined. */
export function canonicalMacro(name: string): string | undefined {
  return macrosByLowerName.get(name.toLowerCase());
}

/** What a macro expands to, and the IP version it is limited to (if any). */
export function macroLines(name: string): { lines: MacroLine[]; only?: 4 | 6 } {
  const entry = macroTable[name];
  if (!entry) return { lines: [] };
  const lines = entry.lines.map((line) => {
    const [proto, ...rest] = line.split(' ');
    const parsed: MacroLine = { proto: proto! };
    for (const word of rest) {
      if (word.startsWith('sport=')) parsed.sport = word.slice('sport='.length);
      else parsed.dport = word;
    }
    return parsed;
  });
  return entry.only ? { lines, only: entry.only } : { lines };
}

export function macroNames(): string[] {
  return Object.keys(macroTable);
}

/** Service names (as in Debian's /etc/services) → port. */
export const serviceNames: Record<string, number> = {
  tcpmux: 1,
  echo: 7,
  discard: 9,
  daytime: 13,
  'ftp-data': 20,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  time: 37,
  whois: 43,
  tacacs: 49,
  domain: 53,
  bootps: 67,
  bootpc: 68,
  tftp: 69,
  gopher: 70,
  finger: 79,
  http: 80,
  kerberos: 88,
  pop3: 110,
  sunrpc: 111,
  auth: 113,
  nntp: 119,
  ntp: 123,
  epmap: 135,
  'netbios-ns': 137,
  'netbios-dgm': 138,
  'netbios-ssn': 139,
  imap2: 143,
  snmp: 161,
  'snmp-trap': 162,
  bgp: 179,
  irc: 194,
  ldap: 389,
  https: 443,
  'microsoft-ds': 445,
  kpasswd: 464,
  submissions: 465,
  isakmp: 500,
  exec: 512,
  login: 513,
  shell: 514,
  syslog: 514,
  printer: 515,
  route: 520,
  submission: 587,
  ldaps: 636,
  rsync: 873,
  imaps: 993,
  pop3s: 995,
  socks: 1080,
  openvpn: 1194,
  'ms-sql-s': 1433,
  l2tp: 1701,
  pptp: 1723,
  radius: 1812,
  'radius-acct': 1813,
  nfs: 2049,
  mysql: 3306,
  'ms-wbt-server': 3389,
  svn: 3690,
  'ipsec-nat-t': 4500,
  sip: 5060,
  xmpp: 5222,
  postgresql: 5432,
  amqp: 5672,
  x11: 6000,
  'http-alt': 8080,
  redis: 6379,
  webmin: 10000,
};

/** `/etc/protocols` names → number (plus `icmpv6`, which PVE adds itself). */
export const protocolNumbers: Record<string, number> = {
  ip: 0,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ggp: 3,
  ipencap: 4,
  st: 5,
  tcp: 6,
  egp: 8,
  igp: 9,
  pup: 12,
  udp: 17,
  hmp: 20,
  'xns-idp': 22,
  rdp: 27,
  'iso-tp4': 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  'idpr-cmtp': 38,
  ipv6: 41,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  idrp: 45,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  skip: 57,
  'ipv6-icmp': 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  rspf: 73,
  vmtp: 81,
  eigrp: 88,
  ospf: 89,
  'ax.25': 93,
  ipip: 94,
  etherip: 97,
  encap: 98,
  pim: 103,
  ipcomp: 108,
  vrrp: 112,
  l2tp: 115,
  isis: 124,
  sctp: 132,
  fc: 133,
  'mobility-header': 135,
  udplite: 136,
  'mpls-in-ip': 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
  ethernet: 143,
};

/** Protocols whose rules may carry ports (by name or number). */
export const protocolsWithPorts = new Set(['tcp', '6', 'udp', '17', 'udplite', '136', 'dccp', '33', 'sctp', '132']);

/** Whether `proto` is a known protocol name or a number that names one. */
export function isKnownProtocol(proto: string): boolean {
  if (proto === 'icmpv6') return true;
  if (/^\d+$/.test(proto)) return Object.values(protocolNumbers).includes(Number(proto));
  return proto in protocolNumbers;
}

/** The protocol number of a name or number (icmpv6 → 58). */
export function protocolNumber(proto: string): number | undefined {
  if (proto === 'icmpv6') return 58;
  if (/^\d+$/.test(proto)) return Number(proto);
  return protocolNumbers[proto];
}

export const icmpTypeNames = new Set(
  (
    'any echo-reply destination-unreachable network-unreachable host-unreachable protocol-unreachable ' +
    'port-unreachable fragmentation-needed source-route-failed network-unknown host-unknown network-prohibited ' +
    'host-prohibited TOS-network-unreachable TOS-host-unreachable communication-prohibited host-precedence-violation ' +
    'precedence-cutoff source-quench redirect network-redirect host-redirect TOS-network-redirect TOS-host-redirect ' +
    'echo-request router-advertisement router-solicitation time-exceeded ttl-zero-during-transit ' +
    'ttl-zero-during-reassembly parameter-problem ip-header-bad required-option-missing timestamp-request ' +
    'timestamp-reply address-mask-request address-mask-reply'
  ).split(' '),
);

export const icmpv6TypeNames = new Set(
  (
    'destination-unreachable no-route communication-prohibited beyond-scope address-unreachable port-unreachable ' +
    'failed-policy reject-route packet-too-big time-exceeded ttl-zero-during-transit ttl-zero-during-reassembly ' +
    'parameter-problem bad-header unknown-header-type unknown-option echo-request echo-reply router-solicitation ' +
    'router-advertisement neighbor-solicitation neighbour-solicitation neighbor-advertisement ' +
    'neighbour-advertisement redirect'
  ).split(' '),
);

/** ICMP type numbers of the names the packet model sends or matches. */
export const icmpTypeNumbers: Record<string, number> = { 'echo-reply': 0, 'echo-request': 8 };
