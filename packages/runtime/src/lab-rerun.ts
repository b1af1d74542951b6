import { advanceLabRun, type Db } from '@glassdome/db';
import type { LabGraph } from '@glassdome/lab';
import { type Producer, startLabFlow } from '@glassdome/queue';

/**
 * Starts the next run of a lab's flow (call after the work to redo was reset to pending/failed, in
 * the same transaction as `advanceLabRun`'s caller or right after): the tasks not done whose
 * dependencies are all done become the new root's children; everything done stays done.
 */
export async function startNextLabRun(
  producer: Producer,
  lab: { id: string; graph: unknown; on_failure: string },
  next: { run: number; doneTasks: string[] },
  requestId?: string,
): Promise<number> {
  const graph = lab.graph as LabGraph;
  const done = new Set(next.doneTasks);
  const ready = graph.tasks.filter((task) => !done.has(task.id) && task.dependsOn.every((id) => done.has(id)));
  await startLabFlow(producer, {
    labId: lab.id,
    requestId,
    policy: lab.on_failure === 'keep' ? 'keep' : 'fail',
    rootTasks: ready.map((task) => ({ id: task.id, kind: task.kind })),
    run: next.run,
  });
  return ready.length;
}

/**
 * Re-deploys one VM of a live lab that vanished from the cluster: its record and steps go back to
 * the start, its two lab tasks are marked failed, and the lab's next run redoes exactly them.
 */
export async function recloneLabVm(db: Db, producer: Producer, vmId: string): Promise<string> {
  const reset = await db.transaction().execute(async (trx) => {
    const vm = await trx.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirst();
    if (!vm?.lab_id) throw new Error(`VM ${vmId} is not a lab VM`);
    const lab = await trx.selectFrom('labs').selectAll().where('id', '=', vm.lab_id).executeTakeFirstOrThrow();
    await trx
      .updateTable('vms')
      .set({ status: 'queued', vmid: null, ip: null, error: null })
      .where('id', '=', vm.id)
      .execute();
    await trx.deleteFrom('vmid_leases').where('owner', '=', vm.id).execute();
    await trx
      .updateTable('steps')
      .set({ status: 'pending', error: null, started_at: null, finished_at: null })
      .where('vm_id', '=', vm.id)
      .execute();
    const prefix = `c${vm.copy ?? 0}:vm:${vm.name}:`;
    await trx
      .updateTable('steps')
      .set({ status: 'failed' })
      .where('lab_id', '=', lab.id)
      .where('vm_id', 'is', null)
      .where('name', 'in', [`${prefix}provision`, `${prefix}configure`])
      .execute();
    await trx.updateTable('labs').set({ status: 'deploying', error: null }).where('id', '=', lab.id).execute();
    return { lab, vmName: vm.name, next: await advanceLabRun(trx, lab.id) };
  });
  await startNextLabRun(producer, reset.lab, reset.next);
  return `re-cloning ${reset.vmName} of lab ${reset.lab.name} (run ${reset.next.run})`;
}
