import {
  compileLabGraph,
  criticalPath,
  instanceNames,
  type LabGraph,
  type LabSpec,
  NOMINAL_TASK_MS,
} from '@glassdome/lab';

export interface LabPlan {
  graph: LabGraph;
  /** Dependency edges as `[from, to]`: `to` waits for `from`. */
  edges: [string, string][];
  criticalPath: { estimatedMs: number; tasks: string[] };
}

export function planLab(spec: LabSpec): LabPlan {
  const graph = compileLabGraph(spec);
  // The estimate takes each task at its kind's nominal duration on a real cluster.
  const path = criticalPath(graph, (task) => NOMINAL_TASK_MS[task.kind]);
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
