/**
 * One operation of the OpenAPI document, built from the zod schemas the routes validate with: its
 * parameters, body, success answer and the error envelope every route shares.
 */
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

interface Operation {
  summary: string;
  body?: JsonSchema;
  yaml?: boolean;
  query?: z.ZodObject;
  pathParams?: string[];
  /** Success status and what it means. */
  ok: [number, string];
  /** The success answer's schema, where the route parses its answer with it. */
  response?: z.ZodType;
  role?: 'operator' | 'admin';
}

export function schemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
}

function queryParameters(query: z.ZodObject) {
  const properties = (schemaOf(query).properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
}

const errorResponse = { $ref: '#/components/responses/Error' };

export function operation(op: Operation) {
  const parameters = [
    ...(op.pathParams ?? []).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
    ...(op.query ? queryParameters(op.query) : []),
  ];
  const content: Record<string, { schema: JsonSchema }> = {};
  if (op.body) content['application/json'] = { schema: op.body };
  if (op.yaml) content['application/yaml'] = { schema: { type: 'string', description: 'the lab spec as YAML' } };
  return {
    summary: op.summary,
    ...(op.role ? { description: `Needs the ${op.role} role.` } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content } } : {}),
    responses: {
      [op.ok[0]]: {
        description: op.ok[1],
        ...(op.response ? { content: { 'application/json': { schema: schemaOf(op.response, 'output') } } } : {}),
      },
      '400': errorResponse,
      '401': errorResponse,
      '403': errorResponse,
      '404': errorResponse,
      '409': errorResponse,
      '413': errorResponse,
      '415': errorResponse,
      '429': errorResponse,
      '503': errorResponse,
    },
  };
}
