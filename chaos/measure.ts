/**
 * What a scenario is judged by, read from Postgres and the simulator's own state (not from the API,
 * which may be what is broken): rows settled or stale, failures and their reasons, Proxmox VMs per VM
 * row (duplicates), and — after everything is torn down — VMs and leases left behind.
 */
import type { ChaosCluster } from './cluster';

/** Statuses a row may end a scenario in (a tear-down's `destroyed` included). */
const SETTLED = new Set(['ready', 'degraded', 'failed', 'cancelled', 'destroyed']);

export interface Tracked {
  /** Standalone VMs the scenario requested. */
  vms: Set<string>;
  labs: Set<string>;
}

export interface RowCounts {
  /** Standalone VMs, labs and the labs' VMs. */
  rows: number;
  ready: number;
  destroyed: number;
  failedWithReason: number;
  failedWithoutReason: number;
  /** Rows still queued, deploying or destroying. */
  stale: number;
  reasons: string[];
  staleRows: string[];
}

async function trackedRows(cluster: ChaosCluster, tracked: Tracked) {
  const vmIds = [...tracked.vms];
  const labIds = [...tracked.labs];
  const vms =
    vmIds.length === 0 && labIds.length === 0
      ? []
      : await cluster.db
          .selectFrom('vms')
          .select(['id', 'name', 'lab_id', 'status', 'error'])
          .where((eb) =>
            eb.or([
              ...(vmIds.length ? [eb('id', 'in', vmIds)] : []),
              ...(labIds.length ? [eb('lab_id', 'in', labIds)] : []),
            ]),
          )
          .execute();
  const labs = labIds.length
    ? await cluster.db.selectFrom('labs').select(['id', 'name', 'status', 'error']).where('id', 'in', labIds).execute()
    : [];
  return [
    ...vms.map((vm) => ({ kind: vm.lab_id ? 'lab VM' : 'VM', ...vm })),
    ...labs.map((lab) => ({ kind: 'lab', ...lab })),
  ];
}

export async function countRows(cluster: ChaosCluster, tracked: Tracked): Promise<RowCounts> {
  const rows = await trackedRows(cluster, tracked);
  const failed = rows.filter((row) => row.status === 'failed' || row.status === 'cancelled');
  const stale = rows.filter((row) => !SETTLED.has(row.status));
  return {
    rows: rows.length,
    ready: rows.filter((row) => row.status === 'ready').length,
    destroyed: rows.filter((row) => row.status === 'destroyed').length,
    failedWithReason: failed.filter((row) => row.error).length,
    failedWithoutReason: failed.filter((row) => !row.error).length,
    stale: stale.length,
    reasons: [...new Set(failed.map((row) => `${row.kind} ${row.name}: ${row.error ?? '(no reason)'}`))],
    staleRows: stale.map((row) => `${row.kind} ${row.name} ${row.status}`),
  };
}

/** Polls until every tracked row is settled or `timeoutMs` passed; returns the seconds it took. */
export async function waitForSettled(cluster: ChaosCluster, tracked: Tracked, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const counts = await countRows(cluster, tracked).catch(() => undefined);
    if (counts && counts.stale === 0) return (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return (Date.now() - started) / 1000;
}

interface SimState {
  vms: Record<string, { config: Record<string, unknown> }>;
}

/** Proxmox VMs Glassdome made, by the VM record their description names. */
export async function clusterVmsByRecord(cluster: ChaosCluster): Promise<Map<string, number[]>> {
  const state = (await cluster.simAdmin('GET', '/state')) as SimState;
  const byRecord = new Map<string, number[]>();
  for (const [vmid, vm] of Object.entries(state.vms)) {
    const match = /glassdome vm ([0-9a-f-]{36})/.exec(String(vm.config.description ?? ''));
    if (!match) continue;
    byRecord.set(match[1]!, [...(byRecord.get(match[1]!) ?? []), Number(vmid)]);
  }
  return byRecord;
}

/** Proxmox VMs beyond the first of any one VM record. */
export async function countDuplicates(cluster: ChaosCluster): Promise<{ count: number; detail: string[] }> {
  const detail: string[] = [];
  let count = 0;
  for (const [record, vmids] of await clusterVmsByRecord(cluster)) {
    if (vmids.length > 1) {
      count += vmids.length - 1;
      detail.push(`VM ${record} has ${vmids.length} Proxmox VMs (${vmids.join(', ')})`);
    }
  }
  return { count, detail };
}

export interface Leftovers {
  /** Proxmox VMs still carrying a Glassdome description. */
  vms: number;
  /** VMID and network leases still held. */
  leases: number;
  /** Rows that did not reach `destroyed`. */
  notDestroyed: string[];
}

/** Tears down every lab and standalone VM of the run through the API and counts what is left. */
export async function tearDownAndCount(cluster: ChaosCluster, tracked: Tracked, timeoutMs: number): Promise<Leftovers> {
  const labs = await cluster.db.selectFrom('labs').select(['id', 'status']).execute();
  const vms = await cluster.db.selectFrom('vms').select(['id', 'status']).where('lab_id', 'is', null).execute();
  for (const lab of labs) if (lab.status !== 'destroyed') await cluster.api('DELETE', `/api/v1/labs/${lab.id}`);
  for (const vm of vms) if (vm.status !== 'destroyed') await cluster.api('DELETE', `/api/v1/vms/${vm.id}`);
  const all: Tracked = { vms: new Set(vms.map((vm) => vm.id)), labs: new Set(labs.map((lab) => lab.id)) };
  for (const id of tracked.vms) all.vms.add(id);
  const deadline = Date.now() + timeoutMs;
  let notDestroyed: string[] = [];
  while (Date.now() < deadline) {
    const rows = await trackedRows(cluster, all);
    notDestroyed = rows
      .filter((row) => row.status !== 'destroyed')
      .map((row) => `${row.kind} ${row.name} ${row.status}`);
    if (notDestroyed.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const leftVms = [...(await clusterVmsByRecord(cluster)).values()].reduce((sum, vmids) => sum + vmids.length, 0);
  const vmidLeases = await cluster.db.selectFrom('vmid_leases').select('vmid').execute();
  const networkLeases = await cluster.db.selectFrom('network_leases').select('tag').execute();
  return { vms: leftVms, leases: vmidLeases.length + networkLeases.length, notDestroyed };
}

/** Leases (VMID and network) whose owner no longer needs one: its row is gone, failed, cancelled or destroyed. */
export async function countOrphanLeases(cluster: ChaosCluster): Promise<{ count: number; detail: string[] }> {
  const leases = await cluster.db.selectFrom('vmid_leases').select(['vmid', 'owner']).execute();
  const owners = [...new Set(leases.map((lease) => lease.owner))];
  const vmStatus = new Map(
    owners.length === 0
      ? []
      : (await cluster.db.selectFrom('vms').select(['id', 'status']).where('id', 'in', owners).execute()).map(
          (vm) => [vm.id, vm.status] as const,
        ),
  );
  const networks = await cluster.db.selectFrom('network_leases').select(['tag', 'lab_id']).execute();
  const labIds = [...new Set(networks.flatMap((lease) => (lease.lab_id ? [lease.lab_id] : [])))];
  const labStatus = new Map(
    labIds.length === 0
      ? []
      : (await cluster.db.selectFrom('labs').select(['id', 'status']).where('id', 'in', labIds).execute()).map(
          (lab) => [lab.id, lab.status] as const,
        ),
  );
  const gone = (status: string | undefined) => !status || ['failed', 'cancelled', 'destroyed'].includes(status);
  const orphans = leases.filter((lease) => gone(vmStatus.get(lease.owner)));
  const networkOrphans = networks.filter((lease) => {
    const status = lease.lab_id ? labStatus.get(lease.lab_id) : undefined;
    return !status || status === 'destroyed';
  });
  return {
    count: orphans.length + networkOrphans.length,
    detail: [
      ...orphans.map(
        (lease) => `VMID ${lease.vmid} leased by ${lease.owner} (${vmStatus.get(lease.owner) ?? 'no row'})`,
      ),
      ...networkOrphans.map(
        (lease) => `VLAN ${lease.tag} of a ${lease.lab_id ? labStatus.get(lease.lab_id) : 'missing'} lab`,
      ),
    ],
  };
}
