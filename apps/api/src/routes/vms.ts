import { randomUUID } from 'node:crypto';
import {
  getShownVm,
  getVm,
  insertVms,
  inTransaction,
  listEvents,
  listStandaloneVms,
  listSteps,
  planSteps,
  toStoredJson,
} from '@glassdome/db';
import { parseVmRequest, type VmRequest } from '@glassdome/lab';
import { requestVmDestroy, writeIntent } from '@glassdome/lab-run';
import { jobIntent, VM_DEPLOY_STEPS } from '@glassdome/queue';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import { addToAuditLine, scopeOf } from '../auth/middleware';
import { projectOfRequest } from '../auth/projects';
import type { ApiContext } from '../context';
import { ApiError, ConflictError, NotFoundError, ValidationError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { logsAt } from '../http/request-id';
import { parseInput, specIssuesToFieldIssues } from '../http/validate';
import { asJson, sendJson, sendPostAnswer } from '../json';
import { presentVm } from '../present';
import { seesPrivate } from '../redact';
import { idParams, osParams, vmCreateQuery, vmListQuery } from '../schemas';
import { relayNow, requireRedis } from '../services/enqueue';
import { checkQuotas, QuotaExceededError } from '../services/quotas';
import { requireRegisteredTemplates } from '../services/template-check';
import { standaloneVmSpec } from './networks';

/**
 * Records a standalone VM, its planned steps and the intent to deploy it, checked against the
 * project's quotas, in one statement with the deploys that arrive meanwhile (one round trip, one
 * commit; see DeployBatcher), and answers 202 at that commit: the intent is durable, and the outbox
 * relay sends it to BullMQ in its next addBulk (or, if Redis refuses it, on its next pass), so the
 * answer does not wait for Redis and the job may reach BullMQ a moment after the client reads it.
 * The row's created_at and request_id say when and by which request; no separate event is written
 * (see bench/api-deploy-rate.bench.ts).
 */
async function deployVm(ctx: ApiContext, req: Request, res: Response, body: unknown) {
  const parsed = parseVmRequest(body);
  if (!parsed.ok) throw new ValidationError(specIssuesToFieldIssues(parsed.issues));
  const vm = parsed.vm;
  const project = await projectOfRequest(req, parseInput(vmCreateQuery, req.query, 'query').project);
  if (vm.template !== undefined) {
    await requireRegisteredTemplates(ctx, { kind: 'project', project }, [{ path: 'template', ref: vm.template }]);
  }
  const spec = toStoredJson(await standaloneVmSpec(ctx, project, vm));
  requireRedis(ctx.producer);
  const vmId = randomUUID();
  const queued = await ctx.deploys
    .deploy(project, {
      id: vmId,
      name: vm.name,
      os: vm.os,
      platformId: ctx.platformId,
      node: ctx.node,
      spec,
      requestId: req.id,
      createdBy: req.principal!.keyId,
      project,
      cpus: vm.cpus,
      memoryMiB: vm.memoryMiB,
      intent: asJson(jobIntent('vm.deploy', { vmId, requestId: req.id }, `vm-deploy.${vmId}`)),
    })
    .catch(nameTaken(vm.name));
  if (!queued.inserted && queued.reason === 'quota') throw quotaRefusal(project, queued, vm);
  let id: string;
  if (queued.inserted) id = vmId;
  else {
    // A project's first deploy makes the project: the transaction below creates it and checks.
    const created = await deployIntoNewProject(ctx, req, vm, project, spec);
    id = created.vmId;
    // Not awaited, as above: the relay logs a refusal and its next pass sends the intent.
    void ctx.relay.sendCommitted([created.outbox]);
  }
  const jobId = `vm-deploy.${id}`;
  // On the request's audit line ('mutation'), written once it is answered.
  if (logsAt(req, 'info')) addToAuditLine(req, { vmId: id, jobId, project });
  res.setHeader('Location', `/api/v1/vms/${id}`);
  sendPostAnswer(res, 202, { id, status: 'queued', jobId, project });
}

/** Standalone VM names are unique across projects (they are the names VMs carry in Proxmox). */
function nameTaken(name: string) {
  return (error: { code?: string }): never => {
    if (error.code === '23505') throw new ConflictError(`the VM name ${name} is taken; choose another`);
    throw error;
  };
}

/** The first quota the refused deploy would exceed, as checkQuotas names it. */
function quotaRefusal(
  project: string,
  refused: { usage: { vms: number; vcpus: number; memoryMiB: number }; limits: Record<string, number> },
  vm: { cpus: number; memoryMiB: number },
): QuotaExceededError {
  const checks = [
    ['maxVms', refused.usage.vms, 1],
    ['maxVcpus', refused.usage.vcpus, vm.cpus],
    ['maxMemoryMiB', refused.usage.memoryMiB, vm.memoryMiB],
  ] as const;
  const [quota, inUse, requested] =
    checks.find(([name, used, asked]) => asked > 0 && used + asked > refused.limits[name]!) ?? checks[0];
  return new QuotaExceededError(quota, project, { limit: refused.limits[quota]!, inUse, requested });
}

/** The transactional deploy, for a project that does not exist yet (checkQuotas creates it): the VM and its outbox row. */
async function deployIntoNewProject(
  ctx: ApiContext,
  req: Request,
  vm: VmRequest,
  project: string,
  spec: ReturnType<typeof asJson>,
): Promise<{ vmId: string; outbox: { id: number; intent: unknown } }> {
  return inTransaction(ctx.db, async (trx) => {
    await checkQuotas(trx, project, ctx.quotas, { vms: 1, copies: 0, vcpus: vm.cpus, memoryMiB: vm.memoryMiB });
    const [vmId] = await insertVms(trx, [
      {
        name: vm.name,
        os: vm.os,
        platformId: ctx.platformId,
        node: ctx.node,
        spec,
        requestId: req.id,
        createdBy: req.principal!.keyId,
        project,
      },
    ]);
    await planSteps(trx, { vmId: vmId! }, [...VM_DEPLOY_STEPS]);
    const intent = jobIntent('vm.deploy', { vmId: vmId!, requestId: req.id }, `vm-deploy.${vmId}`);
    return { vmId: vmId!, outbox: { id: await writeIntent(trx, intent), intent } };
  }).catch(nameTaken(vm.name));
}

async function destroyVm(ctx: ApiContext, req: Request, res: Response) {
  const { id } = parseInput(idParams, req.params, 'params');
  const vm = await getVm(ctx.db, id, scopeOf(req));
  if (!vm) throw new NotFoundError('VM');
  if (vm.lab_id) throw new ConflictError('this VM belongs to a lab; delete the lab instead');
  if (vm.status === 'destroyed') {
    res.status(202).json({ id, status: 'destroyed' });
    return;
  }
  requireRedis(ctx.producer);
  const jobId = await requestVmDestroy(ctx.db, id, req.id);
  if (!jobId) throw new ConflictError('the VM changed state meanwhile; try again');
  await relayNow(ctx, req);
  res.status(202).json({ id, status: 'destroying', jobId });
}

/**
 * GET /vms/:id/logs: the VM's whole timeline with provisioning commands and guest output, for the
 * key that created the VM (or its lab) and admins; anyone else in the project gets 403 (they may
 * see the VM, so the refusal confirms nothing).
 */
async function vmLogs(ctx: ApiContext, req: Request, res: Response) {
  const { id } = parseInput(idParams, req.params, 'params');
  const vm = await getVm(ctx.db, id, scopeOf(req));
  if (!vm) throw new NotFoundError('VM');
  if (!seesPrivate(req.principal!, vm.created_by)) {
    throw new ApiError(403, 'forbidden', 'full logs are for the key that created this VM, and admins');
  }
  const events = await listEvents(ctx.db, { vmId: id, includePrivate: true, limit: 5000 });
  const steps = await listSteps(ctx.db, { vmId: id });
  res.json({
    id,
    error: vm.error,
    steps: steps.map((step) => ({ name: step.name, status: step.status, error: step.error })),
    events: events.map((event) => ({
      id: event.id,
      at: event.at,
      kind: event.kind,
      message: event.message,
      private: event.private,
      data: event.data,
    })),
  });
}

/**
 * `POST /api/v1/vms`'s own handlers (after the API's guard): the app mounts them ahead of its
 * routers (see createApp), so a deploy does not walk every router on its way.
 */
export function vmDeployHandlers(ctx: ApiContext): RequestHandler[] {
  return [accept(JSON_TYPES), (req, res) => deployVm(ctx, req, res, req.body)];
}

/** The VM routes under /api/v1 but `POST /vms` (vmDeployHandlers). */
export function vmRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.get('/vms', async (req, res) => {
    const query = parseInput(vmListQuery, req.query, 'query');
    const { items: vms, nextCursor } = await listStandaloneVms(ctx.db, query, scopeOf(req), ctx.guestSshPort);
    sendJson(res, {
      items: vms.map((vm) => presentVm(vm, req.principal!)),
      limit: query.limit,
      offset: query.offset,
      nextCursor,
    });
  });

  router.get('/vms/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const vm = await getShownVm(ctx.db, id, scopeOf(req), ctx.guestSshPort);
    if (!vm) throw new NotFoundError('VM');
    sendJson(res, presentVm(vm, req.principal!));
  });

  router.get('/vms/:id/logs', (req, res) => vmLogs(ctx, req, res));

  router.delete('/vms/:id', (req, res) => destroyVm(ctx, req, res));
  return router;
}

/** Glassdome's original path: `POST /api/agents/{os}/create` is POST /vms with the OS taken from the path. */
export function agentAliasRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.post('/agents/:os/create', accept(JSON_TYPES), (req, res) => {
    const { os } = parseInput(osParams, req.params, 'params');
    const isObject = req.body && typeof req.body === 'object' && !Array.isArray(req.body);
    if (isObject && req.body.os !== undefined && req.body.os !== os) {
      throw new ValidationError([{ path: 'os', message: `must be left out or match the OS in the path (${os})` }]);
    }
    return deployVm(ctx, req, res, isObject ? { ...req.body, os } : req.body);
  });
  return router;
}
