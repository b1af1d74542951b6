import { appendEvent, insertLab, insertVms, inTransaction, planSteps } from '@glassdome/db';
import { type LabSpec, labAddressing, storedVmSpec } from '@glassdome/lab';
import { labRunIntent, writeIntent } from '@glassdome/lab-run';
import { VM_DEPLOY_STEPS } from '@glassdome/queue';
import type { Request } from 'express';
import type { ApiContext } from '../context';
import { ConflictError } from '../errors';
import { asJson } from '../json';
import { relayNow, requireRedis } from './enqueue';
import { type LabPlan, labVmInstances } from './lab-plan';

/** Writes the lab, its VMs, their planned steps and the flow's intent in one transaction; returns the lab's id. */
async function recordLab(ctx: ApiContext, req: Request, spec: LabSpec, plan: LabPlan): Promise<string> {
  // Every copy gets the same addresses, each on its own networks.
  const addressing = new Map(labAddressing(spec).vms.map((vm) => [vm.vm, vm]));
  return inTransaction(ctx.db, async (trx) => {
    const labId = await insertLab(trx, {
      name: spec.name,
      platformId: ctx.platformId,
      spec: asJson(spec),
      graph: asJson(plan.graph),
      onFailure: spec.onFailure,
      copies: spec.copies,
      expiresAt: new Date(Date.now() + spec.ttlSeconds * 1000),
      requestId: req.id,
      createdBy: req.principal!.keyId,
    });
    const vmIds = await insertVms(
      trx,
      labVmInstances(spec).map(({ copy, name, vm }) => ({
        labId,
        copy,
        name,
        // A VM built from a custom template has no OS profile; the column still wants a value.
        os: vm.os ?? 'custom',
        platformId: ctx.platformId,
        node: ctx.node,
        spec: asJson(storedVmSpec(vm, addressing.get(name))),
        requestId: req.id,
        createdBy: req.principal!.keyId,
      })),
    );
    for (const vmId of vmIds) await planSteps(trx, { vmId, labId }, [...VM_DEPLOY_STEPS]);
    const lab = { id: labId, graph: plan.graph, policy: spec.onFailure };
    await writeIntent(trx, labRunIntent(lab, { run: 0, doneTasks: [] }, req.id));
    return labId;
  }).catch((error: { code?: string }) => {
    if (error.code === '23505') throw new ConflictError(`an active lab named ${spec.name} already exists`);
    throw error;
  });
}

/** Records the lab with the intent to start its flow, then relays the intent to BullMQ. */
export async function deployLab(ctx: ApiContext, req: Request, spec: LabSpec, plan: LabPlan): Promise<string> {
  requireRedis(ctx.producer);
  const labId = await recordLab(ctx, req, spec, plan);
  await relayNow(ctx, req);
  await appendEvent(ctx.db, { labId, kind: 'lab.requested', message: `deploy of lab ${spec.name} requested` });
  req.log.info({ labId, vms: labVmInstances(spec).length }, 'lab deploy queued');
  return labId;
}
