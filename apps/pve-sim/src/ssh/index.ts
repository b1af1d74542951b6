/**
 * The simulator's SSH side: the node's SSH host (PVE's CLIs) and the SSH-reachable guests.
 *
 *   const ssh = await startSimulatorSsh({ sim, port: 2222, guestPort: 22, logger })
 *   ssh.node.hostKeyFingerprint   // SHA256:…, for the info file's sshHostKeyFingerprint
 *   ssh.node.privateKeyPath       // the generated root key, when no authorized_keys file was given
 *   ssh.guests.machine(vmid)      // a guest's filesystem, packages and services
 *   await ssh.close()
 */
import type { Logger } from '@glassdome/logger';
import { provideGuestOs } from '../guest-agent';
import type { Simulator } from '../sim';
import { GuestAgentOs } from './guest/guest-agent-os';
import { GuestSshManager } from './guest/guest-ssh';
import { type NodeSshServer, startNodeSsh } from './host/node-ssh';
import { DiskProvenance } from './provenance';

export type { GuestEffect } from './guest/guest-machine';
export type { GuestSshManager } from './guest/guest-ssh';
export type { NodeSshServer } from './host/node-ssh';

export interface SimulatorSshOptions {
  sim: Simulator;
  /** Node whose shell the host SSH serves. @defaultValue the simulator's first node */
  node?: string;
  /** Address of the node's SSH server. @defaultValue '127.0.0.1' */
  host?: string;
  /** Port of the node's SSH server (PVE_SIM_SSH_PORT); 0 picks a free one. @defaultValue 2222 */
  port?: number;
  /** authorized_keys for root (PVE_SIM_SSH_AUTHORIZED_KEYS); without it a client key pair is generated. */
  authorizedKeysPath?: string;
  /** Where to write the generated client private key (the info file's sshPrivateKeyPath). */
  clientKeyPath?: string;
  /** Port of every guest's SSH server, at the guest's address (PVE_SIM_GUEST_SSH_PORT). @defaultValue 22 */
  guestPort?: number;
  logger: Logger;
}

export interface SimulatorSsh {
  node: NodeSshServer;
  guests: GuestSshManager;
  close(): Promise<void>;
}

/** Starts the node's SSH server and the guest listeners that follow VMs up and down. */
export async function startSimulatorSsh(options: SimulatorSshOptions): Promise<SimulatorSsh> {
  const provenance = new DiskProvenance(options.sim);
  const node = await startNodeSsh({ ...options, provenance, logger: options.logger.child({ component: 'node-ssh' }) });
  const guests = new GuestSshManager({
    sim: options.sim,
    provenance,
    port: options.guestPort ?? 22,
    logger: options.logger.child({ component: 'guest-ssh' }),
  });
  // The guest agent's exec and file calls reach the same machines the guests' SSH serves.
  const agentOs = new GuestAgentOs(options.sim, guests);
  provideGuestOs(options.sim, agentOs);
  return {
    node,
    guests,
    async close() {
      provideGuestOs(options.sim, undefined);
      agentOs.close();
      await Promise.all([node.close(), guests.close()]);
    },
  };
}
