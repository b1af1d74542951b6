import type { Logger } from '@glassdome/logger';
import { AccessApi } from './access';
import { AgentApi, type AgentIp, type WaitForAgentIpOptions } from './agent';
import { ProxmoxClient } from './client';
import { ClusterApi } from './cluster';
import type { ProxmoxConfig } from './config';
import { FirewallApi } from './firewall';
import { TaskApi, type WaitForTaskOptions } from './tasks';
import { VmApi } from './vms';

/** One Proxmox target: the HTTP client and the typed APIs sharing it. */
export interface Proxmox {
  client: ProxmoxClient;
  vms: VmApi;
  tasks: TaskApi;
  agent: AgentApi;
  cluster: ClusterApi;
  access: AccessApi;
  firewall: FirewallApi;
  /** `tasks.wait`: resolves with the exit status, throws TaskFailedError or DeadlineExceededError. */
  waitForTask(upid: string, options?: WaitForTaskOptions): Promise<string>;
  /** `agent.waitForIp` on `node`. */
  waitForAgentIp(node: string, vmid: number, options?: Omit<WaitForAgentIpOptions, 'node'>): Promise<AgentIp>;
  /**
   * The same target with every call and wait stopped by `signal` (a job's): requests in flight are
   * cancelled, retries and polls end, and the call rejects with the signal's reason. Shares the
   * connections; close only the original.
   */
  withSignal(signal: AbortSignal): Proxmox;
  /** Closes idle sockets; call on shutdown. */
  close(): void;
}

export function createProxmox(config: ProxmoxConfig, logger?: Logger): Proxmox {
  return proxmoxOn(new ProxmoxClient(config, logger));
}

/** The typed APIs over one client (or a signal-bound view of it). */
function proxmoxOn(client: ProxmoxClient): Proxmox {
  const tasks = new TaskApi(client);
  const agent = new AgentApi(client);
  return {
    client,
    vms: new VmApi(client),
    tasks,
    agent,
    cluster: new ClusterApi(client),
    access: new AccessApi(client),
    firewall: new FirewallApi(client),
    waitForTask: (upid, options) => tasks.wait(upid, options),
    waitForAgentIp: (node, vmid, options) => agent.waitForIp(vmid, { ...options, node }),
    withSignal: (signal) => proxmoxOn(client.withSignal(signal)),
    close: () => client.close(),
  };
}
