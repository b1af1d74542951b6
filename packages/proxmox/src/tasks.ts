import { classifyText } from './classify';
import type { ProxmoxClient } from './client';
import { InvalidParameterError, TaskFailedError } from './errors';
import { pollUntil } from './poll';

/** A task id as PVE writes it: `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`. */
export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  startedAt: Date;
  /** `qmclone`, `qmstart`, … */
  type: string;
  /** The object the task works on (the source VMID for a clone); may be empty. */
  id: string;
  /** `user@realm`, or `user@realm!token` for a token's task. */
  user: string;
}

const upidPattern =
  /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

export function parseUpid(upid: string): Upid {
  const match = upidPattern.exec(upid);
  if (!match) throw new InvalidParameterError(`not a task id (UPID): ${JSON.stringify(upid.slice(0, 120))}`);
  const [, node, pid, pstart, starttime, type, id, user] = match as unknown as string[];
  return {
    upid,
    node: node!,
    pid: Number.parseInt(pid!, 16),
    pstart: Number.parseInt(pstart!, 16),
    startedAt: new Date(Number.parseInt(starttime!, 16) * 1000),
    type: type!,
    id: id!,
    user: user!,
  };
}

export interface TaskStatus {
  upid: string;
  node: string;
  type: string;
  id: string;
  running: boolean;
  /** `OK`, `WARNINGS: n` or the error text; only once stopped. */
  exitstatus: string | undefined;
}

export interface TaskLogLine {
  n: number;
  t: string;
}

export interface WaitForTaskOptions {
  /**
   * How long the task may take before DeadlineExceededError (the task itself keeps running).
   * @defaultValue 600000
   */
  deadlineMs?: number;
}

/** `OK` and `WARNINGS: n` are the two successful endings. */
export function isSuccessfulExit(exitstatus: string): boolean {
  return exitstatus === 'OK' || exitstatus.startsWith('WARNINGS');
}

/** Task status, log and completion. Tasks are node-local, so the node is always read from the UPID. */
export class TaskApi {
  constructor(private readonly client: ProxmoxClient) {}

  async status(upid: string): Promise<TaskStatus> {
    const { node } = parseUpid(upid);
    const raw = await this.client.get<Record<string, unknown>>(
      `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`,
    );
    return {
      upid,
      node,
      type: String(raw.type ?? ''),
      id: String(raw.id ?? ''),
      running: raw.status === 'running',
      exitstatus: raw.exitstatus === undefined || raw.exitstatus === null ? undefined : String(raw.exitstatus),
    };
  }

  async log(upid: string, options: { start?: number; limit?: number } = {}): Promise<TaskLogLine[]> {
    const { node } = parseUpid(upid);
    const lines = await this.client.get<TaskLogLine[]>(`/nodes/${node}/tasks/${encodeURIComponent(upid)}/log`, {
      start: options.start,
      limit: options.limit ?? 0,
    });
    return lines.map((line) => ({ n: Number(line.n), t: String(line.t) }));
  }

  /**
   * Waits until the task stops. Resolves with its exit status when it succeeded; throws TaskFailedError
   * (with the exit status classified as `reason`) when it failed, DeadlineExceededError when too slow.
   */
  async wait(upid: string, options: WaitForTaskOptions = {}): Promise<string> {
    const { node, type } = parseUpid(upid);
    const status = await pollUntil(
      async () => {
        const current = await this.status(upid);
        return current.running ? undefined : current;
      },
      {
        what: `task ${upid}`,
        deadlineMs: options.deadlineMs ?? 600_000,
        polling: this.client.polling,
        signal: this.client.signal,
        // A task is still running the moment it was submitted: the first look waits for as long as
        // tasks of its type on its node took lately (on any node, before one on its own has ended),
        // half the first interval before any has.
        firstDelayMs: Math.round(this.client.polling.initialMs / 2),
        learned: { looks: this.client.firstLooks, kind: `task ${node} ${type}`, like: `task ${type}` },
      },
    );
    const exitstatus = status.exitstatus ?? 'unknown';
    if (isSuccessfulExit(exitstatus)) return exitstatus;
    throw new TaskFailedError(upid, exitstatus, classifyText(exitstatus, exitstatus, { pveMessage: exitstatus }));
  }
}
