import type { SimulatorInfo } from '@glassdome/config';
import { createProxmox, type Proxmox } from '@glassdome/proxmox';

/**
 * The simulator's API as root@pam (its password login): what an administrator does by hand, behind
 * Glassdome's back, in tests. Close it when done.
 */
export function simulatorRoot(sim: SimulatorInfo): Proxmox {
  return createProxmox({
    baseUrl: sim.apiUrl,
    node: sim.node,
    auth: { username: 'root@pam', password: sim.rootPassword },
    ...(sim.tlsFingerprint ? { tls: { fingerprint: sim.tlsFingerprint } } : {}),
    polling: { initialMs: 10, maxMs: 50 },
  });
}
