/**
 * Everything that shapes a simulated cluster: its inventory, its latencies and its quirks.
 * Every duration is in milliseconds at time scale 1 and is multiplied by `timeScale` at run time,
 * so relationships (a full clone holds the storage lock for 8 s against a 10 s lock timeout) hold
 * at any speed.
 */

export interface Latencies {
  /** Delay before a task's worker starts doing anything. @defaultValue 50 */
  taskOverhead: number;
  /** Duration of a linked clone. @defaultValue 2000 */
  linkedClone: number;
  /** Time a full clone holds the storage lock per copied disk. @defaultValue 8000 */
  fullClonePerDisk: number;
  /** Time between the clone POST returning and its worker writing the temporary config (the nextid window). @defaultValue 100 */
  cloneWorkerStart: number;
  /** Time to allocate a new disk (create, cloud-init drive, thin clone); held under the storage lock. @defaultValue 100 */
  diskAllocate: number;
  /** Time from VM start until its guest OS is up (SSH answers). @defaultValue 3000 */
  boot: number;
  /** Time from VM start until the guest agent answers. @defaultValue 8000 */
  agentStart: number;
  /** Duration of a stop task. @defaultValue 300 */
  stop: number;
  /** Duration of a guest shutdown. @defaultValue 2000 */
  shutdown: number;
  /** Duration of config updates, templates, snapshots, destroys. @defaultValue 300 */
  smallTask: number;
  /** How long a failed guest-agent ping takes before `QEMU guest agent is not running`. @defaultValue 3000 */
  agentPingTimeout: number;
  /** Delay of every 401 answer, counted from the request's start. @defaultValue 3000 */
  authFailureDelay: number;
  /** Period of the pvestatd cycle that refreshes `/cluster/resources` stats; 0 = always fresh. @defaultValue 10000 */
  resourcesLag: number;
  /** Period of pve-firewall's update loop: a firewall change filters packets from the next compile. @defaultValue 10000 */
  firewallUpdate: number;
  /** Timeout of a storage lock (vdisk alloc/clone/free). @defaultValue 10000 */
  storageLockTimeout: number;
  /** Timeout of the VM config flock for config updates and power actions. @defaultValue 10000 */
  vmLockTimeout: number;
  /** Timeout of the VM config flocks a clone worker takes (source and new id). @defaultValue 1000 */
  cloneLockTimeout: number;
}

export const defaultLatencies: Latencies = {
  taskOverhead: 50,
  linkedClone: 2000,
  fullClonePerDisk: 8000,
  cloneWorkerStart: 100,
  diskAllocate: 100,
  boot: 3000,
  agentStart: 8000,
  stop: 300,
  shutdown: 2000,
  smallTask: 300,
  agentPingTimeout: 3000,
  authFailureDelay: 3000,
  resourcesLag: 10000,
  firewallUpdate: 10000,
  storageLockTimeout: 10000,
  vmLockTimeout: 10000,
  cloneLockTimeout: 1000,
};

export interface SimulatorOptions {
  /** Names of the cluster's nodes; the first one holds the default template. @defaultValue ['pve01'] */
  nodes: string[];
  /** Capacity of the `local-lvm` thin pool in GiB (on every node). @defaultValue 512 */
  storageCapacityGiB: number;
  /** Multiplier on every latency; tests use 0.01, demos 1. @defaultValue 1 */
  timeScale: number;
  /** Per-latency overrides at time scale 1. */
  latencies: Latencies;
  /** Seed for every random choice (MACs, UUIDs, faults). @defaultValue 1 */
  seed: number;
  /** Secret of the default deploy token `glassdome@pve!deploy`. @defaultValue a random UUID */
  tokenSecret: string;
  /** Password of root@pam. @defaultValue random */
  rootPassword: string;
  /** Base network for DHCP guest addresses; a VM gets base + vmid. @defaultValue '127.64.0.0/16' */
  guestSubnet: string;
  /** Error bodies carry `message` (libpve-http-server >= 5.2) or only `data`/`errors` (older PVE 8). @defaultValue 'modern' */
  errorEnvelope: 'modern' | 'legacy';
  /** Whether to create the default Ubuntu 22.04 template VM 9000. @defaultValue true */
  withTemplate: boolean;
}

/** Options as callers give them: anything may be left out, latencies one by one. */
export type SimulatorInput = Partial<Omit<SimulatorOptions, 'latencies'>> & { latencies?: Partial<Latencies> };

/** Fills every missing option with its default. */
export function resolveOptions(partial: SimulatorInput = {}): SimulatorOptions {
  return {
    nodes: partial.nodes ?? ['pve01'],
    storageCapacityGiB: partial.storageCapacityGiB ?? 512,
    timeScale: partial.timeScale ?? 1,
    latencies: { ...defaultLatencies, ...partial.latencies },
    seed: partial.seed ?? 1,
    tokenSecret: partial.tokenSecret ?? crypto.randomUUID(),
    rootPassword: partial.rootPassword ?? crypto.randomUUID().replaceAll('-', '').slice(0, 20),
    guestSubnet: partial.guestSubnet ?? '127.64.0.0/16',
    errorEnvelope: partial.errorEnvelope ?? 'modern',
    withTemplate: partial.withTemplate ?? true,
  };
}
