import { type Db, insertOutboxIntent, type JsonValue } from '@glassdome/db';
import type { LabGraph } from '@glassdome/lab';
import { type EnqueueIntent, jobIntent } from '@glassdome/queue';

/** Writes an intent to enqueue in the caller's transaction (see the outbox in docs/architecture.md). */
export function writeIntent(db: Db, intent: EnqueueIntent | ((id: number) => EnqueueIntent)): Promise<number> {
  return insertOutboxIntent(db, intent as JsonValue | ((id: number) => JsonValue));
}

/**
 * The intent that starts a lab's flow at `run`: the tasks neither done nor failed whose dependencies
 * are all done (`failedTasks`, when given, stay out with everything waiting on them).
 */
export function labRunIntent(
  lab: { id: string; graph: LabGraph; policy: 'fail' | 'keep' },
  next: { run: number; doneTasks: string[]; failedTasks?: string[] },
  requestId?: string | null,
): EnqueueIntent {
  const done = new Set(next.doneTasks);
  const failed = new Set(next.failedTasks ?? []);
  const ready = lab.graph.tasks.filter(
    (task) => !done.has(task.id) && !failed.has(task.id) && task.dependsOn.every((id) => done.has(id)),
  );
  return {
    kind: 'lab-flow',
    labId: lab.id,
    ...(requestId ? { requestId } : {}),
    policy: lab.policy,
    rootTasks: ready.map((task) => ({ id: task.id, kind: task.kind })),
    run: next.run,
  };
}

/** A fresh tear-down job per request (`<kind>.<id>.<n>`): a request after a final failure is a new job. */
export function destroyIntent(kind: 'vm' | 'lab', id: string, requestId?: string) {
  return (n: number) =>
    kind === 'vm'
      ? jobIntent('vm.destroy', { vmId: id, requestId }, `vm-destroy.${id}.${n}`)
      : jobIntent('lab.destroy', { labId: id, requestId }, `lab-destroy.${id}.${n}`);
}
