/**
 * A simulated cluster of several nodes prepared as an administrator would for Glassdome on local
 * storage: the simulator starts with its Ubuntu template on the first node only, and a linked clone
 * can only be made on the node whose storage holds its template's disk, so each other node gets its
 * own template of the same name (a VM created there and converted, as root). The deploy token is
 * also let audit every node (PVEAuditor on /nodes), which placement reads free memory from. It returns
 * once the cluster's resource list shows every new template, as placement will read it.
 */
import { simulatorRoot } from './sim-root';
import type { LocalSimulatorInfo } from './simulator';
import { waitFor } from './wait';

/** VMIDs of the extra nodes' templates: 9100 on the second node, 9101 on the third… */
export const NODE_TEMPLATE_BASE_VMID = 9100;

export async function addNodeTemplates(sim: LocalSimulatorInfo, nodes: readonly string[]): Promise<number[]> {
  const root = simulatorRoot(sim);
  const token = { users: [sim.tokenId.split('!')[0]!], tokens: [sim.tokenId] };
  try {
    const source = await root.vms.config(sim.templateVmid, sim.node);
    const made: number[] = [];
    for (const [index, node] of nodes.filter((n) => n !== sim.node).entries()) {
      const vmid = NODE_TEMPLATE_BASE_VMID + index;
      const upid = await root.client.post<string>(`/nodes/${node}/qemu`, {
        vmid,
        name: String(source.raw.name),
        memory: String(source.raw.memory ?? 2048),
        cores: String(source.raw.cores ?? 2),
        ostype: 'l26',
        agent: 'enabled=1',
        scsihw: 'virtio-scsi-pci',
        scsi0: 'local-lvm:3',
        ide2: 'local-lvm:cloudinit',
        net0: 'virtio,bridge=vmbr0',
        boot: 'order=scsi0',
        serial0: 'socket',
        vga: 'serial0',
      });
      await root.tasks.wait(upid, { deadlineMs: 60_000 });
      await root.tasks.wait(await root.vms.template(vmid, node), { deadlineMs: 60_000 });
      await root.access.grant({ path: `/vms/${vmid}`, roles: ['PVETemplateUser'], ...token });
      made.push(vmid);
    }
    await root.access.grant({ path: '/nodes', roles: ['PVEAuditor'], ...token });
    // Placement finds templates in /cluster/resources, whose template flags pvestatd refreshes only
    // every cycle (10 s at time scale 1): the cluster is ready once every new template shows there.
    await waitFor(
      'the new templates in /cluster/resources',
      async () => {
        const shown = new Set((await root.cluster.resources('vm')).filter((vm) => vm.template).map((vm) => vm.vmid));
        return made.every((vmid) => shown.has(vmid)) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    return made;
  } finally {
    root.close();
  }
}
