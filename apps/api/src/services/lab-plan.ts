import { compileLabGraph, criticalPath, type LabGraph, type LabSpec, NOMINAL_TASK_MS } from '@glassdome/lab';

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
