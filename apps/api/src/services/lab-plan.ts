import {
  compileLabGraph,
  criticalPath,
  instanceNames,
  type LabGraph,
  type LabSpec,
  type LabTask,
} from '@glassdome/lab';

/**
 * Rough task durations on a real cluster, for the dry-run's critical-path estimate only: a network
 * is an API call or two, provisioning is clone + boot + agent + SSH, configuring runs the
 * provision steps, the isolation check waits out the firewall's apply and probes.
 */
const ESTIMATED_MS: Record<LabTask['kind'], number> = {
  network: 5_000,
  'vm-provision': 90_000,
  'vm-configure': 30_000,
  isolation: 20_000,
};

export interface LabPlan {
  graph: LabGraph;
  /** Dependency edges as `[from, to]`: `to` waits for `from`. */
  edges: [string, string][];
  criticalPath: { estimatedMs: number; tasks: string[] };
}

export function planLab(spec: LabSpec): LabPlan {
  const graph = compileLabGraph(spec);
  const path = criticalPath(graph, (task) => ESTIMATED_MS[task.kind]);
  return {
    graph,
    edges: graph.tasks.flatMap((task) => task.dependsOn.map((from): [string, string] => [from, task.id])),
    criticalPath: { estimatedMs: path.lengthMs, tasks: path.path },
  };
}

/** Every VM the lab deploys: one per copy and per instance of each spec entry. */
export function labVmInstances(spec: LabSpec) {
  const instances: { copy: number; name: string; vm: LabSpec['vms'][number] }[] = [];
  for (let copy = 0; copy < spec.copies; copy++) {
    for (const vm of spec.vms) {
      for (const name of instanceNames(vm)) instances.push({ copy, name, vm });
    }
  }
  return instances;
}
