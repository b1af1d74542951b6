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
import { checkQuotas } from './quotas';

/**
 * Writes the lab, its VMs, their planned steps and the flow's intent in one transaction, after the
 * project's quotas allowed it (under the project's lock); returns the lab's id.
 */
async function recordLab(ctx: ApiContext, req: Request, spec: LabSpec, plan: LabPlan, project: string) {
  // Every copy gets the same addresses, each on its own networks.
  const addressing = new Map(labAddressing(spec).vms.map((vm) => [vm.vm, vm]));
  const instances = labVmInstances(spec);
  return inTransaction(ctx.db, async (trx) => {
    await checkQuotas(trx, project, ctx.quotas, {
      vms: instances.length,
      copies: spec.copies,
      vcpus: instances.reduce((sum, { vm }) => sum + vm.cpus, 0),
      memoryMiB: instances.reduce((sum, { vm }) => sum + vm.memoryMiB, 0),
      ttlSeconds: spec.ttlSeconds,
    });
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
      project,
    });
    const vmIds = await insertVms(
      trx,
      instances.map(({ copy, name, vm }) => ({
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
        project,
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
export async function deployLab(
  ctx: ApiContext,
  req: Request,
  spec: LabSpec,
  plan: LabPlan,
  project: string,
): Promise<string> {
  requireRedis(ctx.producer);
  const labId = await recordLab(ctx, req, spec, plan, project);
  await relayNow(ctx, req);
  await appendEvent(ctx.db, { labId, kind: 'lab.requested', message: `deploy of lab ${spec.name} requested` });
  req.log.info({ labId, project, vms: labVmInstances(spec).length }, 'lab deploy queued');
  return labId;
}
