/**
 * A lab's current state as one document (the `get_lab` tool and the `glassdome://labs/{id}`
 * resource): its status, each VM with its lab addresses per network and steps, its own tasks, its
 * networks and rules, and its isolation matrix when the API reports one.
 */
import type { GlassdomeApi, LabTopology } from './api/client';
import { ApiCallError } from './api/errors';

/** Fields the API may add to a lab for its reachability check; passed through under `isolation`. */
const ISOLATION_FIELDS = ['isolation', 'isolationMatrix', 'reachability', 'matrix'] as const;

async function topologyOf(api: GlassdomeApi, labId: string): Promise<LabTopology | undefined> {
  try {
    return await api.labTopology(labId);
  } catch (error) {
    // An API without the topology view (or a lab whose spec it cannot show) still has a state.
    if (error instanceof ApiCallError && error.status !== 401 && error.status !== 403) return undefined;
    throw error;
  }
}

export async function labState(api: GlassdomeApi, labId: string): Promise<Record<string, unknown>> {
  const [lab, topology] = await Promise.all([api.getLab(labId), topologyOf(api, labId)]);
  const nicsOf = new Map(topology?.vms.map((vm) => [vm.name, vm.nics]) ?? []);
  const vmStepNames = new Set(lab.vms.flatMap((vm) => vm.steps.map((step) => step.name)));
  const { vms, steps, graph: _graph, ...fields } = lab as typeof lab & { graph?: unknown };
  const isolationField = ISOLATION_FIELDS.find((field) => (lab as Record<string, unknown>)[field] !== undefined);
  return {
    lab: Object.fromEntries(
      Object.entries(fields).filter(([key]) => !(ISOLATION_FIELDS as readonly string[]).includes(key)),
    ),
    vms: vms.map((vm) => ({
      id: vm.id,
      name: vm.name,
      copy: vm.copy,
      status: vm.status,
      os: vm.os,
      vmid: vm.vmid,
      node: vm.node,
      managementIp: vm.ip,
      ssh: (vm as { ssh?: unknown }).ssh ?? null,
      addresses: nicsOf.get(vm.name) ?? [],
      error: vm.error,
      steps: vm.steps.map(({ name, status, attempts, durationMs, error }) => ({
        name,
        status,
        attempts,
        ...(durationMs !== undefined ? { durationMs } : {}),
        ...(error ? { error } : {}),
      })),
    })),
    tasks: steps
      .filter((step) => !vmStepNames.has(step.name))
      .map(({ name, status, attempts, durationMs, error }) => ({
        name,
        status,
        attempts,
        ...(durationMs !== undefined ? { durationMs } : {}),
        ...(error ? { error } : {}),
      })),
    networks: topology?.networks ?? [],
    rules: topology?.rules ?? [],
    isolation: isolationField ? (lab as Record<string, unknown>)[isolationField] : null,
  };
}
