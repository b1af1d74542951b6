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

function listTasks(ctx: HandlerContext) {
  const { sim, params } = ctx;
  requireNode(sim, params.node!);
  const limit = Number(params.limit ?? 50);
  const start = Number(params.start ?? 0);
  const all = Object.values(sim.state.tasks)
    .filter((t) => t.node === params.node && mayView(ctx, t))
    .filter((t) => !params.vmid || t.id === params.vmid)
    .filter((t) => !params.typefilter || t.type === params.typefilter)
    .filter((t) => params.errors !== '1' || (t.status === 'stopped' && t.exitstatus !== 'OK'))
    .filter((t) => params.source !== 'active' || t.status === 'running')
    .sort((a, b) => b.starttime - a.starttime);
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
    };
    if (t.tokenid) item.tokenid = t.tokenid;
    if (t.status === 'stopped') Object.assign(item, { endtime: t.endtime, status: t.exitstatus });
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
