import {
  getVm,
  insertVms,
  inTransaction,
  listStandaloneVms,
  listSteps,
  listStepsOfVms,
  planSteps,
} from '@glassdome/db';
import { parseVmRequest, storedVmSpec } from '@glassdome/lab';
import { requestVmDestroy, writeIntent } from '@glassdome/lab-run';
import { jobIntent, VM_DEPLOY_STEPS } from '@glassdome/queue';
import { type Request, type Response, Router } from 'express';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput, specIssuesToFieldIssues } from '../http/validate';
import { asJson } from '../json';
import { presentVm } from '../present';
import { idParams, osParams, vmListQuery } from '../schemas';
import { relayNow, requireRedis } from '../services/enqueue';

/**
 * Records a standalone VM, its planned steps and the intent to deploy it in one transaction, then
 * relays the intent to BullMQ. The row's created_at and request_id say when and by which request; no separate event is
 * written, which keeps a deploy to one commit (see bench/api.bench.ts).
 */
async function deployVm(ctx: ApiContext, req: Request, res: Response, body: unknown) {
  const parsed = parseVmRequest(body);
  if (!parsed.ok) throw new ValidationError(specIssuesToFieldIssues(parsed.issues));
  const vm = parsed.vm;
  requireRedis(ctx.producer);
  const id = await inTransaction(ctx.db, async (trx) => {
    const [vmId] = await insertVms(trx, [
      {
        name: vm.name,
        os: vm.os,
        platformId: ctx.platformId,
        node: ctx.node,
        spec: asJson(storedVmSpec(vm)),
        requestId: req.id,
        createdBy: req.principal!.keyId,
      },
    ]);
    await planSteps(trx, { vmId: vmId! }, [...VM_DEPLOY_STEPS]);
    await writeIntent(trx, jobIntent('vm.deploy', { vmId: vmId!, requestId: req.id }, `vm-deploy.${vmId}`));
    return vmId!;
  }).catch((error: { code?: string }) => {
    if (error.code === '23505') throw new ConflictError(`a VM named ${vm.name} already exists`);
    throw error;
  });
  const jobId = `vm-deploy.${id}`;
  await relayNow(ctx, req);
  req.log.info({ vmId: id, jobId }, 'vm deploy queued');
  res.status(202).location(`/api/v1/vms/${id}`).json({ id, status: 'queued', jobId });
}

async function destroyVm(ctx: ApiContext, req: Request, res: Response) {
  const { id } = parseInput(idParams, req.params, 'params');
  const vm = await getVm(ctx.db, id);
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

export function vmRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.post('/vms', accept(JSON_TYPES), (req, res) => deployVm(ctx, req, res, req.body));

  router.get('/vms', async (req, res) => {
    const query = parseInput(vmListQuery, req.query, 'query');
    const vms = await listStandaloneVms(ctx.db, query);
    const steps = await listStepsOfVms(
      ctx.db,
      vms.map((vm) => vm.id),
    );
    res.json({ items: vms.map((vm) => presentVm(vm, steps.get(vm.id))), limit: query.limit, offset: query.offset });
  });

  router.get('/vms/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const vm = await getVm(ctx.db, id);
    if (!vm) throw new NotFoundError('VM');
    res.json(presentVm(vm, await listSteps(ctx.db, { vmId: id })));
  });

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
