import type { SimClock } from './clock';
import type { ClusterState, Task } from './state/types';

/** Who runs a request: a user, or a user's API token (`tokenid` is the token's name). */
export interface Identity {
  userid: string;
  tokenid?: string;
}

/** Lets a worker add lines to its task log, as PVE workers print to theirs. */
export type TaskLog = (line: string) => void;

/** Raised by the `failTasks` fault inside a worker. */
export class InjectedTaskFailure extends Error {
  constructor(type: string) {
    super(`injected failure of task ${type}`);
    this.name = 'InjectedTaskFailure';
  }
}

/** Finished tasks kept for status/log queries; older ones are forgotten, as PVE rotates its task index. */
export const keptFinishedTasks = 5000;

const hex = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, '0');

/** Builds a UPID in PVE's format, trailing colon included. */
export function encodeUpid(task: Pick<Task, 'node' | 'pid' | 'pstart' | 'starttime' | 'type' | 'id'>, who: Identity) {
  const user = who.tokenid ? `${who.userid}!${who.tokenid}` : who.userid;
  return `UPID:${task.node}:${hex(task.pid, 8)}:${hex(task.pstart, 8)}:${hex(task.starttime, 8)}:${task.type}:${task.id}:${user}:`;
}

const upidPattern =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

/** Whether a string parses as a UPID (PVE answers `unable to parse worker upid` otherwise). */
export const isUpid = (value: string) => upidPattern.test(value);

/**
 * Runs PVE-style worker tasks: the caller gets the UPID at once, the work runs afterwards, and an
 * error thrown by the work becomes the task's exit status (never an HTTP error).
 */
export class TaskRunner {
  private readonly finished = new Map<string, Array<() => void>>();
  /** Decides whether the `failTasks` fault hits a task of this type. */
  shouldFail: (type: string) => boolean = () => false;

  constructor(
    private readonly state: () => ClusterState,
    private readonly clock: SimClock,
  ) {}

  start(node: string, type: string, id: string, who: Identity, work: (log: TaskLog) => Promise<void>): string {
    const state = this.state();
    const pid = state.nextPid++;
    const starttime = Math.floor(Date.now() / 1000);
    const pstart = Math.floor(process.uptime() * 100) + pid;
    const upid = encodeUpid({ node, pid, pstart, starttime, type, id }, who);
    const task: Task = { upid, node, pid, pstart, starttime, type, id, user: who.userid, status: 'running', log: [] };
    if (who.tokenid) task.tokenid = who.tokenid;
    state.tasks[upid] = task;
    void this.run(task, work);
    return upid;
  }

  /** Resolves once the task has stopped (immediately if it already has or is unknown). */
  wait(upid: string): Promise<Task | undefined> {
    const task = this.state().tasks[upid];
    if (!task || task.status === 'stopped') return Promise.resolve(task);
    return new Promise((resolve) => {
      const waiters = this.finished.get(upid) ?? [];
      waiters.push(() => resolve(this.state().tasks[upid]));
      this.finished.set(upid, waiters);
    });
  }

  /** Stops a running task as `DELETE …/tasks/{upid}` does: it ends now, waiters wake, and what its work still does is not logged. */
  stop(upid: string): void {
    const task = this.state().tasks[upid];
    if (task?.status !== 'running') return;
    task.log.push('TASK ERROR: received interrupt');
    task.status = 'stopped';
    task.exitstatus = 'unexpected status';
    task.endtime = Math.floor(Date.now() / 1000);
    for (const wake of this.finished.get(upid) ?? []) wake();
    this.finished.delete(upid);
  }

  private async run(task: Task, work: (log: TaskLog) => Promise<void>): Promise<void> {
    const log: TaskLog = (line) => {
      if (task.status === 'running') task.log.push(line);
    };
    let exitstatus = 'OK';
    try {
      await this.clock.sleep('taskOverhead');
      if (this.shouldFail(task.type)) throw new InjectedTaskFailure(task.type);
      await work(log);
      log('TASK OK');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      exitstatus = message.replace(/\s*\n\s*/g, ' ').trim();
      log(`TASK ERROR: ${message.trim()}`);
    }
    // A task stopped through the API keeps the status it was given then.
    if (task.status === 'running') task.exitstatus = exitstatus;
    task.status = 'stopped';
    task.endtime ??= Math.floor(Date.now() / 1000);
    for (const wake of this.finished.get(task.upid) ?? []) wake();
    this.finished.delete(task.upid);
    this.forgetOldTasks();
  }

  private forgetOldTasks(): void {
    const tasks = this.state().tasks;
    const upids = Object.keys(tasks);
    if (upids.length <= keptFinishedTasks * 1.2) return;
    // Insertion order is start order, so the first finished ones are the oldest.
    let excess = upids.length - keptFinishedTasks;
    for (const upid of upids) {
      if (excess <= 0) break;
      if (tasks[upid]!.status === 'stopped') {
        delete tasks[upid];
        excess--;
      }
    }
  }
}
