import { instanceNames } from '../spec/instances';
import type { LabSpec } from '../spec/resolve';
import type { LabGraph, LabTask } from './types';

export function networkTaskId(copy: number, network: string): string {
  return `c${copy}:net:${network}`;
}

export function provisionTaskId(copy: number, vm: string): string {
  return `c${copy}:vm:${vm}:provision`;
}

export function configureTaskId(copy: number, vm: string): string {
  return `c${copy}:vm:${vm}:configure`;
}

function compileCopy(spec: LabSpec, copy: number, instancesOf: Map<string, string[]>): LabTask[] {
  const tasks: LabTask[] = spec.networks.map((network) => ({
    id: networkTaskId(copy, network.name),
    kind: 'network',
    copy,
    networkName: network.name,
    dependsOn: [],
  }));
  for (const vm of spec.vms) {
    // Clone and boot need only the networks; waiting for other VMs starts at post-configuration.
    const networks = vm.networks.map((network) => networkTaskId(copy, network.name));
    const awaited = vm.dependsOn
      .flatMap((name) => instancesOf.get(name) ?? [])
      .map((name) => configureTaskId(copy, name));
    for (const vmName of instancesOf.get(vm.name)!) {
      const provision = provisionTaskId(copy, vmName);
      tasks.push({ id: provision, kind: 'vm-provision', copy, vmName, specVmName: vm.name, dependsOn: networks });
      tasks.push({
        id: configureTaskId(copy, vmName),
        kind: 'vm-configure',
        copy,
        vmName,
        specVmName: vm.name,
        dependsOn: [provision, ...awaited],
      });
    }
  }
  return tasks;
}

/**
 * The isolation check of graphs stored before the check ran per copy: one task after every VM of
 * every copy, probing all copies. Labs deployed since have one `isolationTaskId(copy)` per copy.
 */
export const ISOLATION_TASK_ID = 'lab:isolation';

/** The task that proves one copy's containment from inside its guests. */
export function isolationTaskId(copy: number): string {
  return `c${copy}:isolation`;
}

/**
 * Copy `copy`'s isolation check: after every VM of the copy is configured (its guests send the
 * probes and must be ready), and after every VM of the next copy (`(copy + 1) % copies`, the one its
 * cross-copy probes aim at) is provisioned — cloned, firewalled, started, its management address
 * known and answering SSH to Glassdome — so a probe at the other copy meets a live guest behind its
 * firewall and "blocked" is the firewall's answer, never that of a guest that does not exist yet.
 * The other copy's networks are done by then too (its provision tasks wait for them), so the
 * segment comparison reads both copies' recorded bridges and tags.
 */
function isolationTask(copy: number, copies: number, tasks: readonly LabTask[]): LabTask {
  const other = (copy + 1) % copies;
  const own = tasks.filter((task) => task.copy === copy && task.kind === 'vm-configure').map((task) => task.id);
  const target =
    other === copy
      ? []
      : tasks.filter((task) => task.copy === other && task.kind === 'vm-provision').map((task) => task.id);
  return { id: isolationTaskId(copy), kind: 'isolation', copy, dependsOn: [...own, ...target] };
}

/**
 * The task graph of a validated spec: per copy, one task per network, and two per VM (provision,
 * then configure). A VM's provision waits only for its networks; its configure waits for its own
 * provision and for the configure of every VM it dependsOn (all instances of a counted one).
 * Copies share nothing, so they run side by side. Then one isolation check per copy (listed after
 * every copy's tasks), which runs as soon as its copy is configured and the next copy, which its
 * cross-copy probes aim at, is provisioned; the lab is ready only once every copy's check agreed.
 */
export function compileLabGraph(spec: LabSpec): LabGraph {
  const instancesOf = new Map(spec.vms.map((vm) => [vm.name, instanceNames(vm)]));
  const tasks: LabTask[] = [];
  for (let copy = 0; copy < spec.copies; copy++) tasks.push(...compileCopy(spec, copy, instancesOf));
  const checks = Array.from({ length: spec.copies }, (_, copy) => isolationTask(copy, spec.copies, tasks));
  return { tasks: [...tasks, ...checks] };
}
