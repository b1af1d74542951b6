/** `/nodes/{node}/tasks`: task list, status, log and stop. Tasks are node-local. */
import { ParameterError } from '../errors';
import { hasAnyPrivilege } from '../permissions';
import { type HandlerContext, Paged, type Route } from '../router';
import type { Task } from '../state/types';
import { isUpid } from '../tasks';
import { p } from '../validate';
import { requireNode } from './vm-access';

/** A token sees its own tasks; a user sees its own and its tokens'; Sys.Audit on the node sees all. */
function mayView({ sim, who }: HandlerContext, task: Task): boolean {
  if (who.tokenid ? task.user === who.userid && task.tokenid === who.tokenid : task.user === who.userid) return true;
  return hasAnyPrivilege(sim.state, who, `/nodes/${task.node}`, ['Sys.Audit']);
}

function findTask(ctx: HandlerContext): Task {
  const { sim, params } = ctx;
  requireNode(sim, params.node!);
  const upid = params.upid!;
  if (!isUpid(upid)) throw new ParameterError({ upid: 'unable to parse worker upid' });
  const task = sim.state.tasks[upid];
  if (!task || task.node !== params.node) throw new ParameterError({ upid: 'no such task' });
  if (!mayView(ctx, task)) throw new ParameterError({ upid: 'no such task' });
  return task;
}

function taskStatus(ctx: HandlerContext) {
  const task = findTask(ctx);
  const out: Record<string, unknown> = {
    upid: task.upid,
    node: task.node,
    pid: task.pid,
    pstart: task.pstart,
    starttime: task.starttime,
    type: task.type,
    id: task.id,
    user: task.user,
    status: task.status,
  };
  if (task.tokenid) out.tokenid = task.tokenid;
  if (task.status === 'stopped') out.exitstatus = task.exitstatus;
  return out;
}

function taskLog(ctx: HandlerContext) {
  const task = findTask(ctx);
  const start = Number(ctx.params.start ?? 0);
  const limit = Number(ctx.params.limit ?? 50);
  const lines = task.log.length > 0 ? task.log : ['no content'];
  const slice = lines.slice(start, limit === 0 ? undefined : start + limit);
  return new Paged(
    slice.map((t, i) => ({ n: start + i + 1, t })),
    lines.length,
  );
}

/** PVE's kind of an exit status (`upid_normalize_status_type`); a running task has none: `unknown`. */
function statusType(task: Task): 'ok' | 'warning' | 'error' | 'unknown' {
  if (task.status !== 'stopped' || !task.exitstatus || task.exitstatus === 'unexpected status') return 'unknown';
  if (task.exitstatus === 'OK') return 'ok';
  return /^WARNINGS: \d+$/.test(task.exitstatus) ? 'warning' : 'error';
}

/**
 * The node's task list as `PVE::API2::Tasks` answers it. `source` picks the node's list of running
 * tasks (`active`, each `status: RUNNING`), its index of finished ones (`archive`, the default, each
 * with `endtime` and its exit text as `status`) or both, running first (`all`); `since`/`until`
 * compare the start time; `statusfilter` keeps the kinds named (ok, warning, error, unknown — a
 * running task counts as unknown), `errors` drops only `ok`; `userfilter` is a case-blind part of the
 * user; `start`/`limit` page what matched and `total` counts all of it. On PVE both lists are
 * rewritten only when the node next does its bookkeeping of workers (another task forking, or
 * pvestatd's ~10 s cycle), so a finished task can still be listed as running for a while; here a
 * task moves to the index the moment it ends.
 */
function listTasks(ctx: HandlerContext) {
  const { sim, params } = ctx;
  requireNode(sim, params.node!);
  const limit = Number(params.limit ?? 50);
  const start = Number(params.start ?? 0);
  const source = params.source ?? 'archive';
  const since = params.since === undefined ? undefined : Number(params.since);
  const until = params.until === undefined ? undefined : Number(params.until);
  const errors = params.errors === '1';
  let kinds = new Set(['ok', 'warning', 'error', 'unknown']);
  if (params.statusfilter !== undefined && !errors) {
    kinds = new Set(
      params.statusfilter
        .split(/[,; ]+/)
        .filter(Boolean)
        .map((kind) => kind.toLowerCase()),
    );
  } else if (errors) kinds.delete('ok');
  const userfilter = params.userfilter?.toLowerCase();
  const matches = (t: Task) =>
    (!userfilter || t.user.toLowerCase().includes(userfilter)) &&
    mayView(ctx, t) &&
    (!params.typefilter || t.type === params.typefilter) &&
    (!params.vmid || t.id === params.vmid) &&
    (since === undefined || t.starttime >= since) &&
    (until === undefined || t.starttime <= until) &&
    kinds.has(statusType(t));
  const onNode = Object.values(sim.state.tasks).filter((t) => t.node === params.node);
  const newestFirst = (a: Task, b: Task) => b.starttime - a.starttime;
  const active = source === 'archive' ? [] : onNode.filter((t) => t.status === 'running').sort(newestFirst);
  const archive =
    source === 'active'
      ? []
      : onNode
          .filter((t) => t.status === 'stopped')
          .sort((a, b) => (b.endtime ?? 0) - (a.endtime ?? 0) || newestFirst(a, b));
  const all = [...active, ...archive].filter(matches);
  const items = all.slice(start, start + limit).map((t) => {
    const item: Record<string, unknown> = {
      upid: t.upid,
      node: t.node,
      pid: t.pid,
      pstart: t.pstart,
      starttime: t.starttime,
      type: t.type,
      id: t.id,
      user: t.user,
      status: t.status === 'stopped' ? t.exitstatus : 'RUNNING',
    };
    if (t.tokenid) item.tokenid = t.tokenid;
    if (t.status === 'stopped') item.endtime = t.endtime;
    return item;
  });
  return new Paged(items, all.length);
}

function stopTask(ctx: HandlerContext) {
  ctx.sim.tasks.stop(findTask(ctx).upid);
  return null;
}

const upidParams = { node: p.node, upid: p.reqStr };

export const taskRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/tasks',
    params: {
      node: p.node,
      start: p.int,
      limit: p.int,
      vmid: p.optVmid,
      typefilter: p.str,
      userfilter: p.str,
      errors: p.bool,
      source: { type: 'string', optional: true, enum: ['archive', 'active', 'all'] },
      since: p.int,
      until: p.int,
      statusfilter: p.str,
    },
    handler: listTasks,
  },
  { method: 'GET', path: '/nodes/{node}/tasks/{upid}/status', params: upidParams, handler: taskStatus },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks/{upid}/log',
    params: { ...upidParams, start: p.int, limit: p.int, download: p.bool },
    handler: taskLog,
  },
  { method: 'DELETE', path: '/nodes/{node}/tasks/{upid}', params: upidParams, handler: stopTask },
];
