/**
 * `lab.testing`: testing mode's start or end, by the operation's kind. Start: a snapshot of every
 * ready VM (named `gd-testing-…`), then each VM's firewall compiled from the spec with the wider
 * egress, then the end scheduled as a delayed job at `until`. End: each VM's firewall compiled from
 * the spec alone again. Both are recorded in the lab's events; applying a firewall is idempotent, so a
 * retried attempt simply applies it again.
 */
import {
  appendEvent,
  finishLabOperation,
  getLabExtras,
  insertLabOperation,
  insertVmSnapshots,
  type JsonValue,
  listVmSnapshots,
  listVmsOfLab,
  setLabOperationProgress,
  setLabTesting,
  setVmSnapshotStatus,
} from '@glassdome/db';
import {
  compileLabFirewall,
  type EgressPolicy,
  type LabSpec,
  testingSnapshotName,
  withEgressOverride,
} from '@glassdome/lab';
import { loadLabSpec, type TestingState, testingOf } from '@glassdome/lab-run';
import type { JobContext } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';
import { firewallContext, markFirewallApplying, recordAppliedFirewall } from '../steps/firewall';
import { loadVm } from '../vm-record';
import { beginOperation, eachAtOnce } from './lab-snapshot';

const TASK_DEADLINE_MS = 10 * 60_000;

type Operation = NonNullable<Awaited<ReturnType<typeof beginOperation>>>;

/** Each ready VM of the lab gets the firewall `spec` compiles to for its copy. */
async function applyLabFirewall(ctx: InstallerContext, labId: string, spec: LabSpec, signal: AbortSignal) {
  const compiled = new Map<number, ReturnType<typeof compileLabFirewall>>();
  const vms = (await listVmsOfLab(ctx.db, labId)).filter((vm) => vm.status === 'ready' && vm.vmid);
  const failures = await eachAtOnce(
    vms,
    (vm) => vm.name,
    async (row) => {
      const copy = row.copy ?? 0;
      if (!compiled.has(copy)) compiled.set(copy, compileLabFirewall(spec, firewallContext(ctx, labId, copy)));
      const mine = compiled.get(copy)!.vms.find((entry) => entry.vm === row.name);
      if (!mine) throw new Error(`the lab's firewall has no entry for ${row.name}`);
      await markFirewallApplying(ctx, row);
      await ctx.admission.withNodeSlot(
        row.node,
        () => ctx.pve.firewall.replace(row.vmid!, { ...mine, options: { ...mine.options } }, row.node),
        signal,
      );
      // What the VM should now hold: the overseer's drift watch compares with it (else it would
      // take testing mode's firewall for drift and put the lab's own back early).
      await recordAppliedFirewall(ctx, row, mine);
    },
  );
  if (failures.size > 0) throw new Error([...failures].map(([vm, message]) => `${vm}: ${message}`).join('; '));
  return vms.length;
}

/** The snapshot before testing mode widens anything: every ready VM, under one name. */
async function snapshotBefore(ctx: InstallerContext, operation: Operation, name: string, signal: AbortSignal) {
  const vms = (await listVmsOfLab(ctx.db, operation.lab_id)).filter((vm) => vm.status === 'ready');
  await insertVmSnapshots(
    ctx.db,
    vms.map((vm) => ({
      vmId: vm.id,
      labId: operation.lab_id,
      copy: vm.copy ?? 0,
      name,
      scope: 'lab' as const,
      withRam: false,
      description: 'before testing mode',
      operationId: operation.id,
    })),
  );
  const rows = (await listVmSnapshots(ctx.db, operation.lab_id, { name })).filter((row) => row.status !== 'ready');
  let done = 0;
  const failures = await eachAtOnce(
    rows,
    (row) => row.vm_name,
    async (row) => {
      const vm = await loadVm(ctx.db, row.vm_id);
      if (!vm?.vmid) throw new Error(`${row.vm_name} has no VM in Proxmox`);
      await ctx.admission.withNodeSlot(
        vm.node,
        async () => {
          if ((await ctx.pve.vms.snapshots(vm.vmid!, vm.node)).some((s) => s.name === name)) return;
          const upid = await ctx.pve.vms.snapshot(vm.vmid!, name, { description: 'before testing mode' }, vm.node);
          await ctx.pve.tasks.wait(upid, { deadlineMs: TASK_DEADLINE_MS });
        },
        signal,
      );
      await setVmSnapshotStatus(ctx.db, { vmId: vm.id, name }, { status: 'ready', error: null });
      await setLabOperationProgress(ctx.db, operation.id, ++done);
    },
  );
  if (failures.size > 0) throw new Error([...failures].map(([vm, message]) => `${vm}: ${message}`).join('; '));
}

async function startTesting(ctx: InstallerContext, operation: Operation, context: JobContext) {
  const job = boundTo(ctx, context.signal);
  const extras = await getLabExtras(ctx.db, operation.lab_id);
  const since = new Date(operation.created_at);
  const name = testingSnapshotName(since);
  const egress = operation.options.egress as EgressPolicy;
  const networks = operation.options.networks as string[] | undefined;
  const durationSeconds = Number(operation.options.durationSeconds);
  await snapshotBefore(job, operation, name, context.signal);
  const spec = await loadLabSpec(ctx.db, operation.lab_id);
  const vms = await applyLabFirewall(job, operation.lab_id, withEgressOverride(spec, egress, networks), context.signal);
  // The end is an operation of its own, fired by a delayed job at `until` (or sooner, on demand).
  const existing = testingOf(extras?.testing);
  const stopOperationId =
    existing?.stopOperationId ??
    (await insertLabOperation(ctx.db, {
      labId: operation.lab_id,
      kind: 'testing-stop',
      target: { kind: 'lab' },
      options: { automatic: true },
      total: vms,
      requestedBy: operation.requested_by,
    }));
  const until = new Date(Date.now() + durationSeconds * 1000);
  const state: TestingState = {
    since: since.toISOString(),
    until: until.toISOString(),
    egress,
    ...(networks ? { networks } : {}),
    snapshot: name,
    startedBy: operation.requested_by,
    stopOperationId,
  };
  await setLabTesting(ctx.db, operation.lab_id, state as unknown as JsonValue);
  await ctx.producer.enqueue(
    'lab.testing',
    { operationId: stopOperationId },
    { jobId: `lab-testing-stop.${stopOperationId}`, delay: durationSeconds * 1000 },
  );
  await finishLabOperation(ctx.db, operation.id, { status: 'done' });
  await appendEvent(ctx.db, {
    labId: operation.lab_id,
    kind: 'lab.testing.started',
    message: `testing mode on until ${state.until}: egress ${JSON.stringify(egress)}${networks ? ` on ${networks.join(', ')}` : ' on every network'} (snapshot ${name} taken before)`,
    data: { operationId: operation.id, until: state.until, snapshot: name },
  });
  return { operationId: operation.id, until: state.until, vms };
}

async function stopTesting(ctx: InstallerContext, operation: Operation, context: JobContext) {
  const extras = await getLabExtras(ctx.db, operation.lab_id);
  const testing = testingOf(extras?.testing);
  if (
    !testing ||
    testing.stopOperationId !== operation.id ||
    !extras ||
    ['destroying', 'destroyed'].includes(extras.status)
  ) {
    await finishLabOperation(ctx.db, operation.id, { status: 'done' });
    return { operationId: operation.id, skipped: true };
  }
  const spec = await loadLabSpec(ctx.db, operation.lab_id);
  const vms = await applyLabFirewall(boundTo(ctx, context.signal), operation.lab_id, spec, context.signal);
  await setLabTesting(ctx.db, operation.lab_id, null);
  await finishLabOperation(ctx.db, operation.id, { status: 'done' });
  await appendEvent(ctx.db, {
    labId: operation.lab_id,
    kind: 'lab.testing.stopped',
    message: `testing mode over: the lab's own egress policy is back on ${vms} VM(s)`,
    data: { operationId: operation.id },
  });
  return { operationId: operation.id, vms };
}

export async function runTestingMode(ctx: InstallerContext, operationId: string, context: JobContext) {
  const operation = await beginOperation(ctx, operationId);
  if (!operation) return { operationId, skipped: true };
  return operation.kind === 'testing-start'
    ? startTesting(ctx, operation, context)
    : stopTesting(ctx, operation, context);
}
