import type { LabSpec } from '@glassdome/lab';
import type { Request } from 'express';
import type { ApiContext } from '../context';
import { type DeployExtras, deployResolvedLab } from './exercises';
import type { LabPlan } from './lab-plan';

/**
 * Records the lab (after the project's quotas allowed it, under the project's lock) with the intent to
 * start its flow, then relays the intent to BullMQ. `extras` carries what a deploy by reference adds:
 * trainee keys per copy and where the spec came from.
 */
export async function deployLab(
  ctx: ApiContext,
  req: Request,
  spec: LabSpec,
  _plan: LabPlan,
  project: string,
  extras: DeployExtras = {},
): Promise<string> {
  return deployResolvedLab(ctx, req, spec, project, extras);
}
