import { loadEnv, vars } from '@glassdome/config';
import { queueList } from '@glassdome/queue';
import { z } from 'zod';

export const gatewayEnv = z.object({
  ...vars.backing,
  ...vars.proxmox,
  ...vars.worker,
  /** Templates the operator configured: permission repair may grant VM.Clone on these and on registered ones. */
  ...vars.templates,
  /** VLAN tags leased to lab networks, `first-last`. */
  NETWORK_VLAN_RANGE: z
    .string()
    .regex(/^\d{1,4}-\d{1,4}$/, 'must be first-last, e.g. 100-3999')
    .default('100-3999'),
  ...vars.network,
  /**
   * 1: when the datacenter firewall is off, the gateway switches it on before a lab's first network
   * (labs are contained by per-VM firewall rules, which apply only then; PVE keeps its anti-lockout
   * rules for SSH and the web UI). 0: a lab then fails its network task, saying so.
   */
  FIREWALL_AUTO_ENABLE: vars.helpers.flag.default(true),
  /** Where template builds download cloud images on the node. */
  TEMPLATE_IMAGE_DIR: z.string().default('/var/lib/vz/template/iso'),
  /** Queues this process consumes. */
  GATEWAY_QUEUES: queueList.default(['template', 'permission', 'network']),
});

export type GatewayEnv = z.infer<typeof gatewayEnv>;

export function readEnv(): GatewayEnv {
  return loadEnv(gatewayEnv, 'gateway');
}
