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

/** The lab-wide task that proves containment from inside the guests, last of all. */
export const ISOLATION_TASK_ID = 'lab:isolation';

/**
 * The task graph of a validated spec: per copy, one task per network, and two per VM (provision,
 * then configure). A VM's provision waits only for its networks; its configure waits for its own
 * provision and for the configure of every VM it dependsOn (all instances of a counted one).
 * Copies share nothing, so they run side by side. One last task, the isolation check, waits for
 * every VM of every copy (it also probes between copies).
 */
export function compileLabGraph(spec: LabSpec): LabGraph {
  const instancesOf = new Map(spec.vms.map((vm) => [vm.name, instanceNames(vm)]));
  const tasks: LabTask[] = [];
  for (let copy = 0; copy < spec.copies; copy++) tasks.push(...compileCopy(spec, copy, instancesOf));
  tasks.push({
    id: ISOLATION_TASK_ID,
    kind: 'isolation',
    copy: 0,
    dependsOn: tasks.filter((task) => task.kind === 'vm-configure').map((task) => task.id),
  });
  return { tasks };
}
