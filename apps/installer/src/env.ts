import { loadEnv, vars } from '@glassdome/config';
import { queueList } from '@glassdome/queue';
import { z } from 'zod';

export const installerEnv = z.object({
  ...vars.backing,
  ...vars.proxmox,
  ...vars.worker,
  /** Private key (OpenSSH) Glassdome logs into VMs of no lab with (each lab copy gets a key pair of its own, sealed with GLASSDOME_SECRET_KEY; without that variable lab VMs use this one too). Unset: one is generated and sealed in Postgres (needs GLASSDOME_SECRET_KEY). */
  GUEST_SSH_KEY_FILE: z.string().optional(),
  /** Port guests' SSH listens on (22 on real guests; the simulator's tests use another). */
  GUEST_SSH_PORT: vars.helpers.port.default(22),
  /** Template VMID per OS, `os=vmid` pairs separated by commas (a template built by the gateway wins). */
  TEMPLATE_VMIDS: z
    .string()
    .regex(/^([a-z0-9.-]+=\d+)(,[a-z0-9.-]+=\d+)*$/, 'must be os=vmid pairs, e.g. ubuntu-22.04=9000')
    .default('ubuntu-22.04=9000'),
  /** 1: full clones (independent disks); 0: linked clones from the template (fast, Proxmox's default for templates). */
  CLONE_FULL: vars.helpers.flag.default(false),
  /** First and last VMID Glassdome may allocate. */
  VMID_MIN: z.coerce.number().int().min(100).default(1000),
  VMID_MAX: z.coerce.number().int().max(999_999_999).default(99_999),
  /** Full clones running at once per (node, storage), across every worker. */
  CLONE_SLOTS_PER_STORAGE: z.coerce.number().int().positive().default(2),
  /** Proxmox operations running at once per node, across every worker. */
  OPS_PER_NODE: z.coerce.number().int().positive().default(8),
  /** Seconds to wait for the guest agent to report an IP after start. */
  AGENT_TIMEOUT_SECONDS: z.coerce.number().positive().default(300),
  /** Seconds to wait for the guest's SSH to accept our key. */
  SSH_TIMEOUT_SECONDS: z.coerce.number().positive().default(180),
  /**
   * Addresses or CIDRs Glassdome reaches guests from (comma-separated): the only sources a lab VM's
   * firewall lets in on its management NIC (tcp to GUEST_SSH_PORT). Loopback suits the simulator; on
   * a real cluster, the addresses of the hosts running the installer and the API.
   */
  MANAGEMENT_SOURCES: z
    .string()
    .regex(/^[0-9./]+(,[0-9./]+)*$/, 'must be addresses or CIDRs separated by commas, e.g. 192.168.10.5,10.0.0.0/24')
    .default('127.0.0.0/8'),
  /** The network VMs' management NICs take their addresses from (by DHCP on PROXMOX_BRIDGE); Glassdome SSHes to no guest address outside it. */
  MANAGEMENT_CIDR: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be a CIDR, e.g. 192.168.10.0/24')
    .default('127.64.0.0/16'),
  /** Seconds the isolation check may take to agree (the Proxmox firewall applies changes within about 10 s). */
  ISOLATION_CHECK_SECONDS: z.coerce.number().positive().default(60),
  /**
   * How often pve-firewall compiles the rules the API holds (10 s on Proxmox VE): the isolation check
   * starts only this long after the last firewall write of the VMs it probes.
   */
  FIREWALL_APPLY_SECONDS: z.coerce.number().min(0).default(10),
  /** Queues this process consumes (installer: vm and lab). */
  INSTALLER_QUEUES: queueList.default(['vm', 'lab']),
});

export type InstallerEnv = z.infer<typeof installerEnv>;

export function readEnv(): InstallerEnv {
  return loadEnv(installerEnv, 'installer');
}
