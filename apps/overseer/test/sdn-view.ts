import type { LocalSimulatorInfo } from '@glassdome/testkit';
import { onSimNode } from '../../installer/test/node-ssh';

export interface AppliedVnet {
  vnet: string;
  zone: string;
  tag: number;
}

/** The VNets Proxmox has applied (`running=1`), as root on the node sees them. */
export async function appliedVnets(info: LocalSimulatorInfo): Promise<AppliedVnet[]> {
  const out = await onSimNode(info, [
    'pvesh',
    'get',
    '/cluster/sdn/vnets',
    '--running',
    '1',
    '--output-format',
    'json',
  ]);
  return JSON.parse(out) as AppliedVnet[];
}
