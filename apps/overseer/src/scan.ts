/**
 * One inventory scan of a platform: one `/cluster/resources` call (plus a config read per Glassdome
 * template, to notice edits), observed state written to Postgres, reconciliation, alerts raised and
 * resolved, remediations planned, webhooks fanned out, and a scan record appended to the timeline.
 */
import type { Db } from '@glassdome/db';
import { appendEvents } from './alert-store';
import { scanContainment } from './containment';
import type { OverseerContext } from './context';
import { type DesiredState, loadDesiredState } from './desired';
import type { Finding } from './findings';
import { type Inventory, inventoryFromResources } from './inventory';
import { scanNetworks } from './networks';
import { recordObservedState } from './observed-store';
import { reconcile } from './reconcile';
import { withScanLock } from './scan-lock';
import { raisePlatformUnreachable, settleAlerts } from './settle-alerts';
import { unreachableOverSsh } from './ssh-probe';

export const SCAN_EVENT = 'overseer.scan.completed';

export interface ScanSummary {
  platformId: string;
  jobId: string | null;
  replica: string;
  startedAt: string;
  finishedAt: string;
  apiCalls: number;
  vms: number;
  findings: number;
  opened: number;
  resolved: number;
  remediations: number;
  /** Nodes and storages as this scan saw them: the cluster side of the observed state. */
  nodes: { node: string; online: boolean }[];
  storages: { node: string; storage: string; usedBytes: number; totalBytes: number }[];
}

/** Current config digests of the recorded templates that still are templates: one call each. */
async function readTemplateDigests(ctx: OverseerContext, desired: DesiredState, inventory: Inventory) {
  const digests = new Map<number, string>();
  const present = desired.templates.filter((t) => t.configDigest && inventory.vms.get(t.vmid)?.template);
  await Promise.all(
    present.map(async (template) => {
      // One unreadable template must not cost the whole scan; it is simply not compared this time.
      const config = await ctx.pve.vms.config(template.vmid, inventory.vms.get(template.vmid)!.node).catch((error) => {
        ctx.logger.warn({ vmid: template.vmid, err: error }, 'template config unreadable');
        return undefined;
      });
      if (config?.digest) digests.set(template.vmid, config.digest);
    }),
  );
  return { digests, calls: present.length };
}

async function probeSsh(ctx: OverseerContext, desired: DesiredState, inventory: Inventory): Promise<Set<string>> {
  const port = ctx.settings.sshProbePort;
  if (port === undefined) return new Set();
  const targets = desired.vms.flatMap((vm) =>
    vm.status === 'ready' && vm.ip && vm.vmid !== null && inventory.vms.get(vm.vmid)?.status === 'running'
      ? [{ id: vm.id, host: vm.ip }]
      : [],
  );
  return unreachableOverSsh(targets, { port, timeoutMs: 5_000, parallel: 32 });
}

async function runScan(ctx: OverseerContext, platformId: string, jobId: string | undefined): Promise<ScanSummary> {
  const started = new Date();
  const rows = await ctx.pve.client.get<Record<string, unknown>[]>('/cluster/resources').catch(async (error) => {
    await raisePlatformUnreachable(ctx, platformId, error);
    throw error;
  });
  const inventory = inventoryFromResources(rows);
  const desired = await loadDesiredState(ctx.db, platformId);
  const now = new Date();
  const [templates, sshUnreachable, containment, networks] = await Promise.all([
    readTemplateDigests(ctx, desired, inventory),
    probeSsh(ctx, desired, inventory),
    scanContainment(ctx, platformId, now),
    scanNetworks(ctx, platformId),
  ]);
  const reconciled = reconcile(desired, inventory, {
    platformId,
    now,
    storageThreshold: ctx.settings.storageThreshold,
    noIpAfterSeconds: ctx.settings.noIpAfterSeconds,
    stepBoundSeconds: ctx.settings.stepBoundSeconds,
    sshUnreachable,
    templateDigests: templates.digests,
  });
  const findings = [...reconciled, ...containment.findings, ...networks.findings];
  await recordObservedState(ctx.db, desired.vms, inventory);
  const settled = await settleAlerts(ctx, platformId, findings, now, started);
  const finished = new Date();
  const summary: ScanSummary = {
    platformId,
    jobId: jobId ?? null,
    replica: ctx.settings.replica,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    apiCalls: 1 + templates.calls + containment.apiCalls + networks.apiCalls,
    vms: inventory.vms.size,
    findings: findings.length,
    ...settled,
    nodes: inventory.nodes,
    storages: inventory.storages,
  };
  recordMetrics(ctx, summary, inventory, findings);
  return summary;
}

function recordMetrics(ctx: OverseerContext, summary: ScanSummary, inventory: Inventory, findings: Finding[]) {
  const vmsByStatus: Record<string, number> = {};
  for (const vm of inventory.vms.values()) {
    const status = vm.template ? 'template' : vm.status;
    vmsByStatus[status] = (vmsByStatus[status] ?? 0) + 1;
  }
  const findingsBySeverity: Record<string, number> = {};
  for (const finding of findings)
    findingsBySeverity[finding.severity] = (findingsBySeverity[finding.severity] ?? 0) + 1;
  ctx.metrics.recordScan({
    platformId: summary.platformId,
    durationSeconds: (Date.parse(summary.finishedAt) - Date.parse(summary.startedAt)) / 1000,
    apiCalls: summary.apiCalls,
    vmsByStatus,
    findingsBySeverity,
    nodesOffline: inventory.nodes.filter((node) => !node.online).length,
  });
}

async function recordScan(db: Db, summary: ScanSummary): Promise<void> {
  const { platformId, vms, findings, opened, resolved } = summary;
  await appendEvents(db, [
    {
      kind: SCAN_EVENT,
      message: `scanned ${platformId}: ${vms} VMs, ${findings} findings, ${opened} alerts opened, ${resolved} resolved`,
      data: { ...summary },
    },
  ]);
}

/**
 * Scans `platformId` unless another scan of it is running (then returns undefined: the running one
 * covers this period).
 */
export async function scanPlatform(
  ctx: OverseerContext,
  platformId: string,
  jobId?: string,
): Promise<ScanSummary | undefined> {
  const summary = await withScanLock(ctx.db, platformId, () => runScan(ctx, platformId, jobId));
  if (!summary) {
    ctx.logger.info({ platformId, jobId }, 'scan skipped: another scan of this platform is running');
    return undefined;
  }
  await recordScan(ctx.db, summary);
  ctx.logger.info({ ...summary }, 'scan done');
  return summary;
}
