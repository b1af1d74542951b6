import { loadEnv, vars } from '@glassdome/config';
import { queueList } from '@glassdome/queue';
import { z } from 'zod';

export const gatewayEnv = z.object({
  ...vars.backing,
  ...vars.proxmox,
  ...vars.worker,
  /** VLAN tags leased to lab networks, `first-last`. */
  NETWORK_VLAN_RANGE: z
    .string()
    .regex(/^\d{1,4}-\d{1,4}$/, 'must be first-last, e.g. 100-3999')
    .default('100-3999'),
  /** Where template builds download cloud images on the node. */
  TEMPLATE_IMAGE_DIR: z.string().default('/var/lib/vz/template/iso'),
  /** Queues this process consumes. */
  GATEWAY_QUEUES: queueList.default(['template', 'permission', 'network']),
});

export type GatewayEnv = z.infer<typeof gatewayEnv>;

export function readEnv(): GatewayEnv {
  return loadEnv(gatewayEnv, 'gateway');
}
