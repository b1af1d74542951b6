/**
 * The simulated cluster's state: plain JSON-serialisable records, so a snapshot file is just this
 * object. Runtime-only things (locks, timers, listeners) live elsewhere.
 */
import type { GuestDisk } from './guest-disk';

/** A VM config as PVE stores it: every value is the text of the `.conf` line. */
export type VmConfig = Record<string, string>;

export interface VmSnapshot {
  name: string;
  /** Unix seconds. */
  snaptime: number;
  description: string;
  parent?: string;
  config: VmConfig;
  /** The guest's disk contents when the snapshot was taken (absent if it had never booted). */
  guest?: GuestDisk;
  /** 1 when the VM's RAM was saved too (`vmstate=1` on a running VM): a rollback resumes it running. */
  vmstate?: 1;
}

export interface Vm {
  vmid: number;
  node: string;
  status: 'running' | 'stopped';
  config: VmConfig;
  /** Unix ms of the last start, while running. */
  startedAt?: number;
  /** Unix ms at which the guest OS has booted (SSH answers), while running. */
  bootedAt?: number;
  /** Unix ms at which the guest agent answers, while running (absent = never). */
  agentUpAt?: number;
  /** Fake QEMU pid while running. */
  pid?: number;
  snapshots: Record<string, VmSnapshot>;
  /** Name of the snapshot the current state descends from. */
  parent?: string;
  pool?: string;
  /** What the guest OS keeps on its disk (files, packages, services, host key); made at first boot. */
  guest?: GuestDisk;
  /** Image file the VM's disk was imported from on the node (`import-from`, `qm importdisk`). */
  importedFrom?: string;
  /**
   * The VM's DHCP lease on the management network, as an offset from the subnet's base: given when
   * the VM is made, never the same as another VM's, kept for the VM's life (see `leaseDhcp`).
   */
  dhcpOffset?: number;
}

export interface Volume {
  vmid: number;
  sizeBytes: number;
  /** Linked clones name the base volume they depend on. */
  baseOf?: string;
}

export interface Storage {
  storage: string;
  node: string;
  type: 'lvmthin' | 'dir';
  content: string;
  shared: 0 | 1;
  totalBytes: number;
  /** Volume name (e.g. `vm-101-disk-0`) → volume. */
  volumes: Record<string, Volume>;
}

export interface Bridge {
  iface: string;
  node: string;
  vlanAware: boolean;
  address?: string;
  netmask?: string;
  gateway?: string;
  ports: string;
}

export interface ApiToken {
  privsep: 0 | 1;
  expire: number;
  comment?: string;
  secret: string;
}

export interface User {
  userid: string;
  enable: 0 | 1;
  expire: number;
  comment?: string;
  email?: string;
  firstname?: string;
  lastname?: string;
  password?: string;
  groups: string[];
  tokens: Record<string, ApiToken>;
}

export interface Role {
  privs: string[];
  special: 0 | 1;
}

export interface AclEntry {
  path: string;
  type: 'user' | 'group' | 'token';
  ugid: string;
  roleid: string;
  propagate: 0 | 1;
}

export interface Pool {
  comment?: string;
  vmids: number[];
  storages: string[];
}

/** An SDN zone as `/etc/pve/sdn/zones.cfg` holds it (type plus that type's options). */
export interface SdnZone {
  type: string;
  /** VLAN zones: the VLAN-aware bridge the zone's vnets ride on. */
  bridge?: string;
  /** VXLAN zones: the peers' addresses. */
  peers?: string;
  /** Nodes the zone exists on (comma list); all nodes when absent. */
  nodes?: string;
  mtu?: number;
  ipam?: string;
  [option: string]: string | number | undefined;
}

export interface SdnVnet {
  vnet: string;
  zone: string;
  tag?: number;
  alias?: string;
  vlanaware?: 0 | 1;
  /** Simple zones give each vnet a MAC for its gateway. */
  mac?: string;
  'isolate-ports'?: 0 | 1;
}

/** An SDN subnet, keyed `<zone>-<network>-<prefix>`. */
export interface SdnSubnet {
  vnet: string;
  gateway?: string;
  snat?: 0 | 1;
  dnszoneprefix?: string;
  'dhcp-range'?: string[];
  'dhcp-dns-server'?: string;
}

/** One set of SDN objects: the edited configuration, or the applied one. */
export interface SdnObjects {
  zones: Record<string, SdnZone>;
  vnets: Record<string, SdnVnet>;
  subnets: Record<string, SdnSubnet>;
}

export interface Task {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  tokenid?: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  log: string[];
}

export interface ClusterState {
  nodes: Record<
    string,
    {
      node: string;
      online: boolean;
      startedAt: number;
      /** The node's SSH host key, made when its SSH server first starts and kept with the state. */
      sshHostKey?: { privateKey: string; publicKey: string };
    }
  >;
  /** Keyed `<node>/<storage>`. */
  storages: Record<string, Storage>;
  bridges: Record<string, Bridge>;
  vms: Record<string, Vm>;
  users: Record<string, User>;
  groups: Record<string, { comment?: string }>;
  roles: Record<string, Role>;
  acl: AclEntry[];
  pools: Record<string, Pool>;
  /**
   * SDN. `zones`, `vnets` and `subnets` are the APPLIED configuration (PVE's running config, what
   * the last `PUT /cluster/sdn` committed); `pending` is the configuration as edited through the
   * API (PVE's `sdn/*.cfg`), which becomes the applied one at the next `PUT /cluster/sdn`.
   * `generated` is what each node's network reload has built: its vnets exist as bridges there.
   */
  sdn: {
    zones: Record<string, SdnZone>;
    vnets: Record<string, SdnVnet>;
    subnets?: Record<string, SdnSubnet>;
    pending?: SdnObjects;
    /** Running-config version, incremented by every apply. */
    version?: number;
    generated?: Record<string, { version: number; vnets: string[] }>;
  };
  tasks: Record<string, Task>;
  /** Guest-side effects recorded by the SSH guests (commands run, files written), per vmid. */
  guestEffects: Record<string, unknown[]>;
  /** Counter for fake pids. */
  nextPid: number;
  /** The Proxmox firewall's configuration (cluster.fw, host.fw, <vmid>.fw); absent until first written. */
  firewall?: FirewallState;
}

/** One firewall rule as pve-firewall keeps it: `enable` 0/1, the other fields as written. */
export interface FirewallRule {
  type: 'in' | 'out' | 'forward' | 'group';
  /** ACCEPT, DROP, REJECT, or the security group of a `group` rule. */
  action: string;
  enable: 0 | 1;
  macro?: string;
  iface?: string;
  source?: string;
  dest?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  'icmp-type'?: string;
  log?: string;
  comment?: string;
  /** Set when source/dest/proto pin the rule to one IP version. */
  ipversion?: 4 | 6;
}

export interface FirewallIpsetEntry {
  cidr: string;
  nomatch?: 1;
  comment?: string;
}

export interface FirewallIpset {
  comment?: string;
  entries: FirewallIpsetEntry[];
}

export interface FirewallAlias {
  name: string;
  cidr: string;
  ipversion: 4 | 6;
  comment?: string;
}

/** What one firewall config file holds. Options keep PVE's types (0/1 and integers as numbers). */
export interface FirewallScope {
  options: Record<string, string | number>;
  rules: FirewallRule[];
  ipsets: Record<string, FirewallIpset>;
  /** Keyed by the lower-cased name, as PVE keys them. */
  aliases: Record<string, FirewallAlias>;
}

export interface FirewallState {
  cluster: FirewallScope & { groups: Record<string, { comment?: string; rules: FirewallRule[] }> };
  /** host.fw per node. */
  hosts: Record<string, { options: Record<string, string | number>; rules: FirewallRule[] }>;
  /** <vmid>.fw per VM (kept when the VM is gone only until it is destroyed through the API). */
  vms: Record<string, FirewallScope>;
}
