/**
 * Proxmox VE firewall objects in the terms of its API (`/nodes/{node}/qemu/{vmid}/firewall/…`):
 * field names and value formats are PVE's own, so a caller sends them as they are. The limits
 * PVE enforces are in `limits.ts` and docs/proxmox.md.
 */

/** `PUT …/firewall/options`: the VM firewall's switches. */
export interface PveFirewallOptions {
  /** The VM's firewall is on (each NIC also needs `firewall=1`). */
  enable: 0 | 1;
  /** Inbound traffic no rule accepts. */
  policy_in: 'ACCEPT' | 'DROP' | 'REJECT';
  /** Outbound traffic no rule accepts. */
  policy_out: 'ACCEPT' | 'DROP' | 'REJECT';
  /** Outbound packets must carry a source address in the NIC's `ipfilter-netN` IPSet (no spoofing). */
  ipfilter: 0 | 1;
  /** Outbound frames must carry the NIC's own MAC address. */
  macfilter: 0 | 1;
  /** DHCP requests out and answers in pass (the management NIC takes its address by DHCP). */
  dhcp: 0 | 1;
  /** IPv6 neighbour discovery passes. */
  ndp: 0 | 1;
  /** The guest may send IPv6 router advertisements. */
  radv: 0 | 1;
}

/** `POST …/firewall/rules`: one rule. */
export interface PveFirewallRule {
  /** Direction, as seen from the VM. */
  type: 'in' | 'out';
  action: 'ACCEPT' | 'DROP';
  /** PVE creates rules disabled unless told otherwise. */
  enable: 1;
  /** The NIC (`netN`) the rule applies to; every rule Glassdome writes names one. */
  iface: string;
  /** An address, a CIDR, or `+ipset`; absent means any. */
  source?: string;
  dest?: string;
  proto?: 'tcp' | 'udp' | 'icmp';
  /** Destination ports: `80`, `8000:8100`, `53,80,443` (at most 15 numbers, a range counting two). */
  dport?: string;
  /** `gd` (or `gd:<tag>`) and what the rule is for. */
  comment: string;
}

/** One entry of an IPSet (`POST …/firewall/ipset/{name}`). */
export interface PveIpsetEntry {
  /** An address (no `/32`: PVE strips it) or a CIDR. */
  cidr: string;
  /** The entry is an exception: addresses in it do not match, though a wider entry holds them. */
  nomatch?: 1;
  comment?: string;
}

/** `POST …/firewall/ipset` (the set) and its entries. */
export interface PveIpset {
  name: string;
  comment?: string;
  entries: PveIpsetEntry[];
}

/** Everything one VM's firewall holds. */
export interface VmFirewall {
  /** The VM instance (`web`, `client-2`). */
  vm: string;
  options: PveFirewallOptions;
  /** Create these before the rules: a rule naming a missing IPSet is refused. */
  ipsets: PveIpset[];
  /**
   * In evaluation order (the first match decides). PVE inserts every created rule at the top, so
   * create them from last to first.
   */
  rules: PveFirewallRule[];
}

/**
 * One copy's firewall: per-VM objects only. Nothing is shared at cluster level: each VM's objects
 * are created and removed with it, and its digest covers everything that decides its traffic.
 */
export interface LabFirewall {
  vms: VmFirewall[];
}
