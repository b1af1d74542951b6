/**
 * `/storage`: the cluster's storage configuration (`/etc/pve/storage.cfg`), one entry per storage
 * id however many nodes carry it. Listing shows what the caller holds Datastore.Audit or
 * Datastore.AllocateSpace on; reading one entry needs Datastore.Allocate.
 */
import { createHash } from 'node:crypto';
import { fail } from '../errors';
import { hasAnyPrivilege, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { ClusterState, Storage } from '../state/types';
import type { ParamSpec } from '../validate';

const storageTypes = [
  'btrfs',
  'cephfs',
  'cifs',
  'dir',
  'esxi',
  'glusterfs',
  'iscsi',
  'iscsidirect',
  'lvm',
  'lvmthin',
  'nfs',
  'pbs',
  'rbd',
  'zfs',
  'zfspool',
];

/** What storage.cfg says of a storage besides its type and content (the default install's values). */
function typeOptions(storage: Storage): Record<string, string | number> {
  if (storage.type === 'dir') return { path: storage.storage === 'local' ? '/var/lib/vz' : `/mnt/${storage.storage}` };
  return { vgname: 'pve', thinpool: storage.storage === 'local-lvm' ? 'data' : storage.storage };
}

/** One config entry per storage id (the first node's record stands for the cluster-wide entry). */
function storageConfig(state: ClusterState): Map<string, Record<string, string | number>> {
  const entries = new Map<string, Record<string, string | number>>();
  for (const storage of Object.values(state.storages)) {
    if (entries.has(storage.storage)) continue;
    const entry: Record<string, string | number> = {
      storage: storage.storage,
      type: storage.type,
      content: storage.content,
      ...typeOptions(storage),
    };
    if (storage.shared) entry.shared = 1;
    entries.set(storage.storage, entry);
  }
  return entries;
}

/** SHA-1 over the config text, the `digest` every entry carries. */
function configDigest(entries: Map<string, Record<string, string | number>>): string {
  const text = [...entries.values()]
    .map(({ storage, type, ...options }) =>
      [`${type}: ${storage}`, ...Object.entries(options).map(([key, value]) => `\t${key} ${value}`)].join('\n'),
    )
    .join('\n\n');
  return createHash('sha1').update(text).digest('hex');
}

function listStorage({ sim, params, who }: HandlerContext) {
  const entries = storageConfig(sim.state);
  const digest = configDigest(entries);
  return [...entries.values()]
    .filter((entry) =>
      hasAnyPrivilege(sim.state, who, `/storage/${entry.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace']),
    )
    .filter((entry) => !params.type || entry.type === params.type)
    .map((entry) => ({ ...entry, digest }));
}

function readStorage({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, `/storage/${params.storage}`, ['Datastore.Allocate']);
  const entries = storageConfig(sim.state);
  const entry = entries.get(params.storage!);
  if (!entry) fail(`storage '${params.storage}' does not exist`);
  return { ...entry, digest: configDigest(entries) };
}

const storageId: ParamSpec = { type: 'string', format: 'pve-storage-id' };

export const storageConfigRoutes: Route[] = [
  {
    method: 'GET',
    path: '/storage',
    params: { type: { type: 'string', optional: true, enum: storageTypes } },
    handler: listStorage,
  },
  { method: 'GET', path: '/storage/{storage}', params: { storage: storageId }, handler: readStorage },
];
