/**
 * Statements that many lab tasks of one process make at once (60 provision tasks start together),
 * made together: the first load of a group starts once the current turn of the event loop is over,
 * and takes every call of that group made by then (tasks released by one shared read, such as their
 * lab's placement, all call in the same turn); a call while a load of its group is in flight waits
 * for the next load of that group, which takes every call waiting by then. Each call's load starts
 * after the call was made, so it reads (and writes) what its own statement would have; only the
 * number of round trips queued on the process's pool changes.
 */
export function coalesced<K, V>(
  load: (group: string, keys: K[]) => Promise<V[]>,
): (group: string, key: K) => Promise<V> {
  type Waiting = { key: K; resolve: (value: V) => void; reject: (error: unknown) => void };
  const groups = new Map<string, { waiting: Waiting[] }>();
  const run = (group: string, state: { waiting: Waiting[] }) => {
    const batch = state.waiting.splice(0);
    load(
      group,
      batch.map((call) => call.key),
    )
      .then(
        (values) => {
          for (const [i, call] of batch.entries()) call.resolve(values[i]!);
        },
        (error: unknown) => {
          for (const call of batch) call.reject(error);
        },
      )
      .finally(() => {
        if (state.waiting.length > 0) run(group, state);
        else groups.delete(group);
      });
  };
  return (group, key) =>
    new Promise<V>((resolve, reject) => {
      const running = groups.get(group);
      if (running) {
        running.waiting.push({ key, resolve, reject });
        return;
      }
      const state = { waiting: [{ key, resolve, reject }] };
      groups.set(group, state);
      // Not at once: a task starting alone would take the first load to itself, and the 45 tasks of
      // its turn would wait for that round trip before theirs (37 ms, then 40 ms, for the bench lab's
      // provision tasks on a warm stack).
      setImmediate(() => run(group, state));
    });
}
