/** Every API route, by endpoint family. */
import type { Route } from '../router';
import { accessRoutes } from './access';
import { aclRoutes } from './acl';
import { clusterRoutes } from './cluster';
import { directoryRoutes } from './directories';
import { firewallRoutes } from './firewall';
import { nodeRoutes } from './nodes';
import { poolRoutes } from './pools';
import { qemuRoutes } from './qemu';
import { qemuAgentRoutes } from './qemu-agent';
import { qemuAgentExecRoutes } from './qemu-agent-exec';
import { qemuCloneRoutes } from './qemu-clone';
import { qemuConfigRoutes } from './qemu-config';
import { qemuPowerRoutes } from './qemu-power';
import { qemuResizeRoutes } from './qemu-resize';
import { qemuSnapshotRoutes } from './qemu-snapshot';
import { sdnRoutes } from './sdn';
import { subnetRoutes } from './sdn-subnets';
import { storageConfigRoutes } from './storage-config';
import { taskRoutes } from './tasks';
import { userRoutes } from './users';

export const allRoutes: Route[] = [
  ...accessRoutes,
  ...userRoutes,
  ...aclRoutes,
  ...clusterRoutes,
  ...directoryRoutes,
  ...storageConfigRoutes,
  ...sdnRoutes,
  ...subnetRoutes,
  ...nodeRoutes,
  ...poolRoutes,
  ...taskRoutes,
  ...qemuRoutes,
  ...qemuConfigRoutes,
  ...qemuPowerRoutes,
  ...qemuCloneRoutes,
  ...qemuSnapshotRoutes,
  ...qemuResizeRoutes,
  ...qemuAgentRoutes,
  ...qemuAgentExecRoutes,
  ...firewallRoutes,
];
