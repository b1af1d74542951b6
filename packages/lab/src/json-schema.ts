import { z } from 'zod';
import { labSpecSchema } from './spec/lab-schema';
import { vmRequestSchema } from './spec/vm-request';

/**
 * The lab spec as JSON Schema (draft 2020-12), describing what a user writes: defaults shown, all
 * shape rules included. Rules that span fields (references, cycles, addresses, quotas) are beyond
 * JSON Schema and are checked by parseLabSpec only.
 */
export function labSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(labSpecSchema, { io: 'input', unrepresentable: 'any' });
}

/** The single-VM request (`POST /api/v1/vms`) as JSON Schema, for the OpenAPI document. */
export function vmRequestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(vmRequestSchema, { io: 'input', unrepresentable: 'any' });
}
