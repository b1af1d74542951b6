import { planVmSteps, recordVmSteps } from '@glassdome/db';
import { ISOLATION_TASK_ID, type LabTask, networkTaskId, nominalRemainingPath } from '@glassdome/lab';
import { type LabTaskWork, moveVm, runLabTask, taskDetail, vmStatusChange } from '@glassdome/lab-run';
import type { JobContext } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';
import { shieldSteps } from '../must-land';
import {
  CONFIGURE_STEP_NAMES,
  configureSteps,
  failedEnd,
  type NicPlacement,
  type Placement,
  provisionSteps,
  runSteps,
} from '../pipeline';
import { ensureLabPlaced, type LabPlacement, specOnNode } from '../placement';
import { pinReadWith } from '../steps/guest-trust';
import { type VmRow, vmRecordOf } from '../vm-record';
import { runIsolationCheck } from './lab-isolation';
import { asJobError } from './vm-deploy';

type NetworkBridge = { bridge: string; tag?: number; vnet?: string };

/**
 * Bridges of lab networks by lab and task. A network task records its bridge once it is done and a
 * done network task never runs again while its lab exists, so each is read once per process (the
 * provision tasks starting together share that one read).
 */
const bridges = new Map<string, Promise<NetworkBridge | undefined>>();
const BRIDGES_KEPT = 2_000;

function networkBridge(ctx: InstallerContext, labId: string, taskId: string): Promise<NetworkBridge | undefined> {
  const key = `${labId}/${taskId}`;
  const known = bridges.get(key);
  if (known) return known;
  const read = taskDetail(ctx, labId, taskId).then((detail) => {
    const recorded = detail as Partial<NetworkBridge> | undefined;
    return recorded?.bridge ? { ...recorded, bridge: recorded.bridge } : undefined;
  });
  if (bridges.size >= BRIDGES_KEPT) bridges.delete(bridges.keys().next().value!);
  bridges.set(key, read);
  // Only a recorded bridge is kept: a failed read or none yet is read again next time.
  read.then(
    (bridge) => bridge ?? bridges.delete(key),
    () => bridges.delete(key),
  );
  return read;
}

/**
 * What a provision task's start waits for: its lab placed on the cluster's nodes (the first provision
 * task of the lab does it), since the start reads the VM and the placement writes its node.
 */
async function vmTaskPrepare(ctx: InstallerContext, labId: string, task: LabTask): Promise<LabPlacement | null> {
  return task.kind === 'vm-provision' ? ensureLabPlaced(ctx, labId) : null;
}

/**
 * A lab VM's NICs: one per lab network in spec order, on the bridge (and tag) its copy's network task
 * recorded, with the address the lab assigned and the firewall on; then the management NIC on the
 * uplink bridge, by DHCP, also behind the firewall.
 */
async function labPlacement(ctx: InstallerContext, vm: VmRow, copy: number): Promise<Placement> {
  const networks = vm.spec.networks ?? [];
  const nics: NicPlacement[] = [];
  for (const network of networks) {
    const detail = await networkBridge(ctx, vm.lab_id!, networkTaskId(copy, network.name));
    if (!detail) throw new Error(`network ${network.name} of copy ${copy} has no recorded bridge`);
    nics.push({
      bridge: detail.bridge,
      // A VNet carries its own tag; a NIC on the plain bridge carries it itself.
      tag: detail.vnet ? undefined : detail.tag,
      ipconfig: network.ip ? `ip=${network.ip}` : 'ip=dhcp',
      firewall: true,
    });
  }
  nics.push({ bridge: ctx.env.PROXMOX_BRIDGE, ipconfig: 'ip=dhcp', firewall: true });
  return { nics, managementNic: networks.length };
}

/**
 * `lab.task` for a VM: its provision steps or its configure steps, inside the lab's bookkeeping; a
 * provision job runs its VM's configure too when the provision made it ready (`inlineNext` below).
 */
export function runLabVmTask(ctx: InstallerContext, labId: string, taskId: string, context: JobContext) {
  let vmId: string | undefined;
  return runLabTask(
    ctx,
    { labId, taskId, context },
    async ({
      lab,
      task,
      prepared: placement,
      vm: row,
      throwIfStopped,
      signal,
      shield,
      recordedDone,
      doneAsked,
    }: LabTaskWork<LabPlacement | null>) => {
      if (task.kind === 'isolation') {
        // One copy's check; a graph stored before checks ran per copy has one over every copy.
        const scope = task.id === ISOLATION_TASK_ID ? {} : { copies: [task.copy] };
        return runIsolationCheck(boundTo(ctx, signal), lab, signal, scope);
      }
      if (!row) throw new Error(`lab ${labId} has no VM ${task.vmName} in copy ${task.copy}`);
      const { steps: read, pinned_host_key: pinned, started_step: started, ...vmRow } = row;
      // A VM whose plan is still on its row (the deploy's API never wrote its step rows: it died or
      // Postgres refused after the commit) gets them now, as the deploy would have written them.
      const recorded = read.length === 0 && vmRow.planned_steps !== null ? await planVmSteps(ctx.db, vmRow.id) : read;
      // Until runSteps has it, the step the task's start recorded started is this code's to settle.
      let handedOver = false;
      try {
        const vm = vmRecordOf(vmRow);
        // A configure task logs in with the pin read along with its VM (a provision task pins anew).
        pinReadWith(vm, pinned);
        vm.spec = specOnNode(ctx, placement ?? null, vm.node, vm.spec);
        vmId = vm.id;
        // Of the tasks waiting for a node's admission slot, the lower copy goes first, so that copies
        // come up (and check) one after another; within a copy, the longest chain still after it.
        // A task waiting in that line is set aside: its worker takes another task meanwhile.
        const job = {
          ...boundTo(ctx, signal),
          admission: ctx.admission.withPriority(
            nominalRemainingPath(lab.graph, task.id),
            task.copy,
            context.setAside?.bind(context),
          ),
        };
        const steps =
          task.kind === 'vm-provision'
            ? provisionSteps(job, vm, await labPlacement(job, vm, task.copy), signal)
            : configureSteps(job, vm);
        handedOver = true;
        await runSteps(job, { vmId: vm.id, labId }, shieldSteps(steps, shield), {
          signal,
          recorded,
          ...(started ? { started } : {}),
          // Between steps the process's watch over its labs decides (no read per step); a stop it
          // sees meanwhile aborts the step in flight through `signal`.
          before: async () => throwIfStopped(),
          // The provision task moves the VM to deploying with its first step (its configure task finds
          // it there), and the last step of the configure task moves it to ready.
          ...(vm.status === 'deploying' ? {} : { onStart: vmStatusChange('deploy') }),
          ...(task.kind === 'vm-configure'
            ? {
                onDone: {
                  move: vmStatusChange('ready'),
                  events: () => [{ kind: 'vm.ready', message: `${vm.name} ready at ${vm.ip}` }],
                },
              }
            : {}),
          // The task's own step is recorded done with the last step's end.
          labTaskDone: { task: task.id, recorded: recordedDone, asked: doneAsked },
        });
      } catch (error) {
        if (started && !handedOver) {
          await recordVmSteps(ctx.db, { vmId: vmRow.id, labId }, { end: failedEnd(started, error) });
        }
        throw error;
      }
      return undefined;
    },
    {
      prepare: (task) => vmTaskPrepare(ctx, labId, task),
      // A configure task's first step is started with the task: its VM is deploying already (its
      // provision task moved it), and nothing between that start and runSteps reads or writes.
      firstStep: (task) => (task.kind === 'vm-configure' ? CONFIGURE_STEP_NAMES : undefined),
      // A provision's own configure, ready at once (no VM it depends on still unconfigured), runs in
      // the provision's job: in the process that holds the guest's SSH connection, with no job between.
      inlineNext: (task, ready) =>
        task.kind === 'vm-provision'
          ? ready.find((next) => next.kind === 'vm-configure' && next.copy === task.copy && next.vmName === task.vmName)
          : undefined,
      toJobError: asJobError,
      onFinalFailure: async (message) => {
        if (vmId) await moveVm(ctx.db, vmId, 'fail', { error: message });
      },
    },
  );
}
