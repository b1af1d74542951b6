/** PVE 8's privilege names and built-in roles (pve-access-control AccessControl.pm, restated). */
import type { Role } from './types';

export const allPrivileges = [
  'VM.Allocate',
  'VM.Audit',
  'VM.Backup',
  'VM.Clone',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Console',
  'VM.Migrate',
  'VM.Monitor',
  'VM.PowerMgmt',
  'VM.Snapshot',
  'VM.Snapshot.Rollback',
  'Sys.Audit',
  'Sys.Console',
  'Sys.Incoming',
  'Sys.Modify',
  'Sys.PowerMgmt',
  'Sys.Syslog',
  'Sys.AccessNetwork',
  'Datastore.Allocate',
  'Datastore.AllocateSpace',
  'Datastore.AllocateTemplate',
  'Datastore.Audit',
  'SDN.Allocate',
  'SDN.Audit',
  'SDN.Use',
  'Realm.Allocate',
  'Realm.AllocateUser',
  'User.Modify',
  'Group.Allocate',
  'Pool.Allocate',
  'Pool.Audit',
  'Mapping.Audit',
  'Mapping.Modify',
  'Mapping.Use',
  'Permissions.Modify',
];

const vmUser = ['VM.Audit', 'VM.Console', 'VM.Backup', 'VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.PowerMgmt'];
const vmAdmin = allPrivileges.filter((p) => p.startsWith('VM.'));
const audit = allPrivileges.filter((p) => p.endsWith('.Audit'));

const builtIn: Record<string, string[]> = {
  Administrator: allPrivileges,
  NoAccess: [],
  PVEAdmin: allPrivileges.filter(
    (p) => !['Sys.PowerMgmt', 'Sys.Modify', 'Realm.Allocate', 'Permissions.Modify'].includes(p),
  ),
  PVEAuditor: audit,
  PVEVMAdmin: vmAdmin,
  PVEVMUser: vmUser,
  PVESysAdmin: ['Sys.Audit', 'Sys.Console', 'Sys.Syslog', 'Sys.AccessNetwork', 'Permissions.Modify', 'Pool.Audit'],
  PVEDatastoreAdmin: ['Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit'],
  PVEDatastoreUser: ['Datastore.AllocateSpace', 'Datastore.Audit'],
  PVESDNAdmin: ['SDN.Allocate', 'SDN.Audit', 'SDN.Use'],
  PVESDNUser: ['SDN.Audit', 'SDN.Use'],
  PVEUserAdmin: ['User.Modify', 'Group.Allocate', 'Realm.AllocateUser', 'Sys.Audit'],
  PVEPoolAdmin: ['Pool.Allocate', 'Pool.Audit'],
  PVEPoolUser: ['Pool.Audit'],
  PVEMappingAdmin: ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'],
  PVEMappingUser: ['Mapping.Audit', 'Mapping.Use'],
  PVETemplateUser: ['VM.Clone', 'VM.Audit'],
};

export function builtInRoles(): Record<string, Role> {
  return Object.fromEntries(Object.entries(builtIn).map(([id, privs]) => [id, { privs: [...privs], special: 1 }]));
}

/** The role the default deploy token holds on /vms: everything to build and run VMs except cloning. */
export const deployerRole = {
  id: 'GlassdomeDeployer',
  privs: [
    'VM.Allocate',
    'VM.Audit',
    'VM.Monitor',
    'VM.PowerMgmt',
    'VM.Snapshot',
    'VM.Snapshot.Rollback',
    'VM.Config.CDROM',
    'VM.Config.CPU',
    'VM.Config.Cloudinit',
    'VM.Config.Disk',
    'VM.Config.HWType',
    'VM.Config.Memory',
    'VM.Config.Network',
    'VM.Config.Options',
  ],
};
