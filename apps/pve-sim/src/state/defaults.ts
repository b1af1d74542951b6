/**
 * The cluster a fresh simulator holds: nodes, storages, a VLAN-aware bridge, root@pam, the
 * Glassdome deploy user and token with least-privilege ACLs, and the Ubuntu 22.04 template 9000.
 */
import type { SimulatorOptions } from '../options';
import type { SeededRandom } from '../random';
import { builtInRoles, deployerRole } from './roles';
import type { AclEntry, ClusterState, Vm } from './types';

export const defaultStorage = 'local-lvm';
export const defaultBridge = 'vmbr0';
export const templateVmid = 9000;
export const deployUser = 'glassdome@pve';
export const deployTokenName = 'deploy';
const GiB = 1024 ** 3;

function templateVm(node: string, random: SeededRandom): Vm {
  const ctime = Math.floor(Date.now() / 1000);
  return {
    vmid: templateVmid,
    node,
    status: 'stopped',
    snapshots: {},
    config: {
      agent: 'enabled=1',
      boot: 'order=scsi0;ide2',
      cores: '2',
      ide2: `${defaultStorage}:vm-${templateVmid}-cloudinit,media=cdrom`,
      ipconfig0: 'ip=dhcp',
      memory: '2048',
      meta: `creation-qemu=8.1.5,ctime=${ctime}`,
      name: 'ubuntu-2204-tmpl',
      net0: `virtio=${random.mac()},bridge=${defaultBridge}`,
      ostype: 'l26',
      scsi0: `${defaultStorage}:base-${templateVmid}-disk-0,size=2252M`,
      scsihw: 'virtio-scsi-pci',
      serial0: 'socket',
      smbios1: `uuid=${random.uuid()}`,
      template: '1',
      vga: 'serial0',
      vmgenid: random.uuid(),
    },
  };
}

/** The least-privilege grants of the deploy user and its token (privsep needs both). */
function deployAcl(node: string): AclEntry[] {
  const grants: Array<[string, string]> = [
    [`/vms/${templateVmid}`, 'PVETemplateUser'],
    ['/vms', deployerRole.id],
    [`/storage/${defaultStorage}`, 'PVEDatastoreUser'],
    ['/sdn/zones/localnetwork', 'PVESDNUser'],
    [`/nodes/${node}`, 'PVEAuditor'],
  ];
  return grants.flatMap(([path, roleid]) => [
    { path, type: 'user' as const, ugid: deployUser, roleid, propagate: 1 as const },
    { path, type: 'token' as const, ugid: `${deployUser}!${deployTokenName}`, roleid, propagate: 1 as const },
  ]);
}

function addNode(state: ClusterState, node: string, index: number, options: SimulatorOptions): void {
  const now = Date.now();
  state.nodes[node] = { node, online: true, startedAt: now };
  state.storages[`${node}/local`] = {
    storage: 'local',
    node,
    type: 'dir',
    content: 'iso,vztmpl,backup,snippets',
    shared: 0,
    totalBytes: 100 * GiB,
    volumes: {},
  };
  state.storages[`${node}/${defaultStorage}`] = {
    storage: defaultStorage,
    node,
    type: 'lvmthin',
    content: 'images,rootdir',
    shared: 0,
    totalBytes: options.storageCapacityGiB * GiB,
    volumes: {},
  };
  state.bridges[`${node}/${defaultBridge}`] = {
    iface: defaultBridge,
    node,
    vlanAware: true,
    ports: 'eno1',
    address: `192.168.100.${10 + index}`,
    netmask: '24',
    gateway: '192.168.100.1',
  };
}

function addUsers(state: ClusterState, options: SimulatorOptions): void {
  state.users['root@pam'] = {
    userid: 'root@pam',
    enable: 1,
    expire: 0,
    email: 'root@localhost',
    groups: [],
    tokens: {},
    password: options.rootPassword,
  };
  state.users[deployUser] = {
    userid: deployUser,
    enable: 1,
    expire: 0,
    comment: 'Glassdome deployer',
    groups: [],
    tokens: {
      [deployTokenName]: { privsep: 1, expire: 0, comment: 'Glassdome deploy token', secret: options.tokenSecret },
    },
  };
}

export function createDefaultState(options: SimulatorOptions, random: SeededRandom): ClusterState {
  const state: ClusterState = {
    nodes: {},
    storages: {},
    bridges: {},
    vms: {},
    users: {},
    groups: {},
    roles: { ...builtInRoles(), [deployerRole.id]: { privs: [...deployerRole.privs], special: 0 } },
    acl: [],
    pools: {},
    sdn: { zones: {}, vnets: {}, subnets: {}, pending: { zones: {}, vnets: {}, subnets: {} } },
    tasks: {},
    guestEffects: {},
    nextPid: 0x1000,
  };
  options.nodes.forEach((node, index) => {
    addNode(state, node, index, options);
  });
  addUsers(state, options);
  const firstNode = options.nodes[0]!;
  state.acl.push(...deployAcl(firstNode));
  if (options.withTemplate) {
    state.vms[templateVmid] = templateVm(firstNode, random);
    const storage = state.storages[`${firstNode}/${defaultStorage}`]!;
    storage.volumes[`base-${templateVmid}-disk-0`] = { vmid: templateVmid, sizeBytes: 2252 * 1024 ** 2 };
    storage.volumes[`vm-${templateVmid}-cloudinit`] = { vmid: templateVmid, sizeBytes: 4 * 1024 ** 2 };
  }
  return state;
}
