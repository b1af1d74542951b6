/**
 * The lab a design or deploy tool is about: a spec (JSON object or YAML text) or a catalog lab by id
 * (optionally renamed, with parameters where the API takes them), as the body of `POST /labs`.
 */
import { z } from 'zod';
import type { LabBody } from '../api/client';
import { ToolInputError } from './define';

export const labInput = {
  spec: z
    .union([z.string().min(1).max(1_000_000), z.record(z.string(), z.unknown())])
    .optional()
    .describe(
      'the lab spec: a JSON object, or YAML text (see the resource glassdome://docs/labs and glassdome://schema/lab-spec)',
    ),
  template: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('a catalog lab id instead of a spec (see glassdome://catalog)'),
  name: z.string().min(1).max(63).optional().describe('with template: deploy the catalog lab under this name'),
  parameters: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'with template: the catalog lab’s parameters (copies, ttl, trainee keys, sizes), where the API offers them',
    ),
};

export type LabInput = {
  spec?: string | Record<string, unknown> | undefined;
  template?: string | undefined;
  name?: string | undefined;
  parameters?: Record<string, unknown> | undefined;
};

/** The body `POST /labs` takes for these arguments; exactly one of spec or template. */
export function labBodyOf(input: LabInput, [specField, templateField] = ['spec', 'template']): LabBody | string {
  if ((input.spec === undefined) === (input.template === undefined)) {
    throw new ToolInputError(`give exactly one of ${specField} or ${templateField}`);
  }
  if (input.spec !== undefined) {
    if (input.name !== undefined || input.parameters !== undefined) {
      throw new ToolInputError('name and parameters go with template; put them in the spec itself');
    }
    return input.spec as LabBody | string;
  }
  return {
    template: input.template!,
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.parameters !== undefined ? { parameters: input.parameters } : {}),
  } as LabBody;
}
