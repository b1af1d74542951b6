/**
 * What Glassdome's API token must be allowed to do, and where: the one list that `glassdome setup`
 * checks a token against and that `--bootstrap-ssh` grants. Each ACL path gets a role of its own
 * holding only what is checked on that path (docs/proxmox.md, "Privileges Glassdome needs").
 */

export interface AclGrant {
  /** ACL path, e.g. `/vms` or `/storage/local-lvm`. */
  path: string;
  /** Role created for this path alone (role ids starting with `PVE` are reserved by Proxmox). */
  role: string;
  privs: string[];
  /** What Glassdome does that needs it, shown by setup. */
  why: string;
}

/** Where VMs go: the node, the storage their disks are allocated on, the bridge their NICs attach to. */
export interface Placement {
  node: string;
  storage: string;
  bridge: string;
}

export function glassdomeAcls({ node, storage, bridge }: Placement): AclGrant[] {
  return [
    {
      path: '/vms',
      role: 'GlassdomeVMs',
      privs: [
        'VM.Allocate',
        'VM.Audit',
        'VM.Clone',
        'VM.Config.CPU',
        'VM.Config.Cloudinit',
        'VM.Config.Disk',
        'VM.Config.Memory',
        'VM.Config.Network',
        'VM.Config.Options',
        'VM.Monitor',
        'VM.PowerMgmt',
        'VM.Snapshot',
        'VM.Snapshot.Rollback',
      ],
      why: 'clone templates, configure (cloud-init, NICs, firewall), start, stop, snapshot, revert and destroy VMs, read their guest agent',
    },
    {
      path: `/storage/${storage}`,
      role: 'GlassdomeStorage',
      privs: ['Datastore.AllocateSpace', 'Datastore.Audit'],
      why: `allocate cloned and cloud-init disks on ${storage}`,
    },
    {
      path: `/nodes/${node}`,
      role: 'GlassdomeNode',
      privs: ['Sys.Audit'],
      why: `read ${node}'s status, storages and tasks`,
    },
    {
      path: `/sdn/zones/localnetwork/${bridge}`,
      role: 'GlassdomeBridge',
      privs: ['SDN.Audit', 'SDN.Use'],
      why: `attach NICs to ${bridge}, VLAN tags included`,
    },
  ];
}

/**
 * Privileges on `path` given `GET /access/permissions`: those of the deepest listed path at or above
 * it, since a deeper ACL replaces what would be inherited.
 */
export function privilegesAt(granted: Record<string, string[]>, path: string): string[] {
  let best: string | undefined;
  for (const candidate of Object.keys(granted)) {
    const covers = candidate === '/' || candidate === path || path.startsWith(`${candidate}/`);
    if (covers && (best === undefined || candidate.length > best.length)) best = candidate;
  }
  return best === undefined ? [] : (granted[best] ?? []);
}

/**
 * `VM.Clone` may instead be granted template by template (`/vms/<template>`, what the gateway grants
 * when a clone is refused), so it counts wherever under /vms it is held.
 */
function heldSomewhereUnder(granted: Record<string, string[]>, prefix: string, priv: string): boolean {
  return Object.entries(granted).some(
    ([path, privs]) => (path === prefix || path.startsWith(`${prefix}/`)) && privs.includes(priv),
  );
}

/** `VM.Clone on /vms`-style lines for every privilege the token lacks. */
export function missingPrivileges(granted: Record<string, string[]>, placement: Placement): string[] {
  return glassdomeAcls(placement).flatMap(({ path, privs }) => {
    const held = privilegesAt(granted, path);
    return privs
      .filter((priv) => !held.includes(priv))
      .filter((priv) => !(priv === 'VM.Clone' && heldSomewhereUnder(granted, path, priv)))
      .map((priv) => `${priv} on ${path}`);
  });
}
