import type { ClusterState } from './types';

/** The address of the node at `index` of the cluster's node list (`ip` in `/cluster/status`). */
export function clusterAddress(index: number): string {
  return `192.168.100.${10 + index}`;
}

/** The node answering at IPv4 address `ip`: its cluster address or the address of one of its bridges. */
export function nodeAt(state: ClusterState, ip: string): string | undefined {
  const nodes = Object.keys(state.nodes);
  const byCluster = nodes.find((_, index) => clusterAddress(index) === ip);
  return byCluster ?? Object.values(state.bridges).find((bridge) => bridge.address === ip)?.node;
}
