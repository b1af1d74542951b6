import type { Logger } from '@glassdome/logger';
import { AccessApi } from './access';
import { AgentApi } from './agent';
import { ProxmoxClient } from './client';
import { ClusterApi } from './cluster';
import type { ProxmoxConfig } from './config';
import { TaskApi } from './tasks';
import { VmApi } from './vms';

/** One Proxmox target: the HTTP client and the typed APIs sharing it. */
export interface Proxmox {
  client: ProxmoxClient;
  vms: VmApi;
  tasks: TaskApi;
  agent: AgentApi;
  cluster: ClusterApi;
  access: AccessApi;
  /** Closes idle sockets; call on shutdown. */
  close(): void;
}

export function createProxmox(config: ProxmoxConfig, logger?: Logger): Proxmox {
  const client = new ProxmoxClient(config, logger);
  return {
    client,
    vms: new VmApi(client),
    tasks: new TaskApi(client),
    agent: new AgentApi(client),
    cluster: new ClusterApi(client),
    access: new AccessApi(client),
    close: () => client.close(),
  };
}
