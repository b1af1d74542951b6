/**
 * `pve-firewall` on the node: `status` as the daemon's CLI prints it. The state is one line,
 * `Status: <enabled|disabled>/<running|stopped>`, with ` (pending changes)` appended when the
 * service runs and a compile now would change the node's rules in force. `enabled` is the
 * cluster's `enable` as pve-firewall reads it (an anti-lockout timestamp counts for 60 s).
 */
import { clusterEnabled, firewallState } from '../../network/firewall-config';
import type { CliCommand } from './program';

export const pveFirewallCommands: CliCommand[] = [
  {
    words: ['status'],
    spec: { positional: [], options: [] },
    async run({ sim, node }) {
      const enabled = clusterEnabled(firewallState(sim.state).cluster.options, Date.now());
      const running = sim.firewall.runningOn(node);
      // A stopped daemon has nothing in force to compare with: no pending computation then.
      const pending = running && sim.firewall.pendingOn(node);
      const status = `${enabled ? 'enabled' : 'disabled'}/${running ? 'running' : 'stopped'}`;
      return { stdout: `Status: ${status}${pending ? ' (pending changes)' : ''}\n` };
    },
  },
];
