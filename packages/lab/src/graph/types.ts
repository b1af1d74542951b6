/**
 * network:      lease a VLAN tag / vnet from the pool, then create the isolated network.
 * vm-provision: reserve VMID → clone → configure → start → wait for the agent's IP → wait for SSH.
 * vm-configure: post-configuration (provision steps) → verify → ready.
 * isolation:    one copy's reachability matrix run from inside its guests, before the lab is ready.
 */
export type LabTaskKind = 'network' | 'vm-provision' | 'vm-configure' | 'isolation';

export interface LabTask {
  /**
   * Deterministic: `c{copy}:net:{network}`, `c{copy}:vm:{vm}:provision`, `c{copy}:vm:{vm}:configure`,
   * `c{copy}:isolation` (`lab:isolation` in graphs stored before the check ran per copy).
   */
  readonly id: string;
  readonly kind: LabTaskKind;
  /** Which copy of the lab (0-based). */
  readonly copy: number;
  /** The VM's name after `count` expansion (web-1), for VM tasks. */
  readonly vmName?: string;
  /** The spec entry the VM comes from (web), for VM tasks. */
  readonly specVmName?: string;
  /** The network's name, for network tasks. */
  readonly networkName?: string;
  /** Tasks that must all finish before this one starts. */
  readonly dependsOn: readonly string[];
}

/** A lab's tasks and their dependencies: a DAG, its tasks in a deterministic order (by copy, then spec order). */
export interface LabGraph {
  readonly tasks: readonly LabTask[];
}
