/**
 * Directory indexes that API browsers and tools walk (`pvesh ls`, proxmoxer, Ansible's info
 * modules): `/`, `/cluster`, `/access`, a VM's `status/`, a node's storage, plus the single-object
 * reads beside them (a group, a realm, a node storage's status). Each lists what PVE 8.4 lists,
 * in its order, whether or not the simulator implements every child.
 */
import { createHash } from 'node:crypto';
import { fail, ParameterError } from '../errors';
import { hasAnyPrivilege, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { usedBytes } from '../storage';
import { type ParamSpec, p } from '../validate';
import { loadVm, requireNode } from './vm-access';

const subdirs = (names: string[]) => names.map((subdir) => ({ subdir }));

/** pve-manager's cluster index (SDN is installed). */
const clusterChildren = [
  'acme',
  'backup',
  'backup-info',
  'ceph',
  'config',
  'firewall',
  'ha',
  'jobs',
  'log',
  'mapping',
  'metrics',
  'notifications',
  'nextid',
  'options',
  'replication',
  'resources',
  'status',
  'tasks',
  'sdn',
];

const realms: Record<string, { type: string; comment: string }> = {
  pam: { type: 'pam', comment: 'Linux PAM standard authentication' },
  pve: { type: 'pve', comment: 'Proxmox VE authentication server' },
};

const storageId: ParamSpec = { type: 'string', format: 'pve-storage-id' };

/** A node's storage by id; 400 `No such storage.` as pve-storage's status calls answer. */
function nodeStorage({ sim, params, who }: HandlerContext) {
  requireNode(sim, params.node!);
  requirePrivileges(sim.state, who, `/storage/${params.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], {
    any: true,
  });
  const storage = sim.state.storages[`${params.node}/${params.storage}`];
  if (!storage) throw new ParameterError({ storage: 'No such storage.' });
  return storage;
}

function storageStatus(ctx: HandlerContext) {
  const storage = nodeStorage(ctx);
  const used = usedBytes(storage);
  return {
    type: storage.type,
    content: storage.content,
    shared: storage.shared,
    active: 1,
    enabled: 1,
    total: storage.totalBytes,
    used,
    avail: storage.totalBytes - used,
  };
}

function readGroup({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, '/access/groups', ['Sys.Audit', 'Group.Allocate'], { any: true });
  const group = sim.state.groups[params.groupid!];
  if (!group) fail(`group '${params.groupid}' does not exist`);
  const members = Object.values(sim.state.users)
    .filter((user) => user.groups.includes(params.groupid!))
    .map((user) => user.userid)
    .sort();
  return { ...(group.comment ? { comment: group.comment } : {}), members };
}

function readRealm({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, '/access/realm', ['Realm.Allocate', 'Sys.Audit'], { any: true });
  const realm = realms[params.realm!];
  if (!realm) fail(`domain '${params.realm}' does not exist`);
  const text = Object.entries(realms)
    .map(([id, r]) => `${r.type}: ${id}\n\tcomment ${r.comment}\n`)
    .join('\n');
  return { ...realm, digest: createHash('sha1').update(text).digest('hex') };
}

export const directoryRoutes: Route[] = [
  {
    method: 'GET',
    path: '/',
    params: {},
    handler: () => subdirs(['version', 'cluster', 'nodes', 'storage', 'access', 'pools']),
  },
  { method: 'GET', path: '/cluster', params: {}, handler: () => clusterChildren.map((name) => ({ name })) },
  {
    method: 'GET',
    path: '/access',
    params: {},
    handler: () => subdirs(['users', 'groups', 'roles', 'acl', 'domains', 'openid', 'tfa', 'ticket', 'password']),
  },
  {
    method: 'GET',
    path: '/access/groups/{groupid}',
    params: { groupid: { type: 'string', format: 'pve-groupid' } },
    handler: readGroup,
  },
  { method: 'GET', path: '/access/domains/{realm}', params: { realm: p.reqStr }, handler: readRealm },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/status',
    params: { node: p.node, vmid: p.vmid },
    handler: ({ sim, params }) => {
      loadVm(sim, params.node!, params.vmid!);
      return subdirs(['current', 'start', 'stop', 'reset', 'shutdown', 'suspend', 'reboot']);
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}',
    params: { node: p.node, storage: storageId },
    handler: ({ sim, params, who }) => {
      // pve-storage lists the children without looking the storage up.
      requireNode(sim, params.node!);
      requirePrivileges(sim.state, who, `/storage/${params.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], {
        any: true,
      });
      return subdirs([
        'content',
        'download-url',
        'file-restore',
        'import-metadata',
        'prunebackups',
        'rrd',
        'rrddata',
        'status',
        'upload',
      ]);
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/status',
    params: { node: p.node, storage: storageId },
    handler: storageStatus,
  },
];

/** Whether `who` may see a group in `/access/groups` (User.Modify, Sys.Audit or Group.Allocate on it). */
export function mayListGroup({ sim, who }: HandlerContext, groupid: string): boolean {
  return hasAnyPrivilege(sim.state, who, `/access/groups/${groupid}`, ['User.Modify', 'Sys.Audit', 'Group.Allocate']);
}
