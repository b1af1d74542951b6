/**
 * What this API offers, read from its own OpenAPI document at run time: routes that other parts of
 * Glassdome add over time (snapshots, reset, TTL extension, rosters, catalog parameters, alert
 * resolution, projects) show up in the UI as soon as the API has them.
 */
import { useQuery } from '@tanstack/react-query';

interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
}

export interface Features {
  has(path: string, method: string): boolean;
  /** Whether the request body of `method path` mentions a property called `name` anywhere. */
  bodyMentions(path: string, method: string, name: string): boolean;
}

function mentions(schema: unknown, name: string, depth = 0): boolean {
  if (!schema || typeof schema !== 'object' || depth > 12) return false;
  const node = schema as Record<string, unknown>;
  const properties = node.properties as Record<string, unknown> | undefined;
  if (properties && name in properties) return true;
  return Object.values(node).some((value) =>
    Array.isArray(value)
      ? value.some((item) => mentions(item, name, depth + 1))
      : typeof value === 'object' && mentions(value, name, depth + 1),
  );
}

export function featuresOf(doc: OpenApiDocument | undefined): Features {
  return {
    has: (path, method) => Boolean(doc?.paths?.[path]?.[method.toLowerCase()]),
    bodyMentions: (path, method, name) =>
      mentions(doc?.paths?.[path]?.[method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema, name),
  };
}

export function useFeatures(): Features {
  const { data } = useQuery({
    queryKey: ['openapi'],
    queryFn: async () => (await fetch('/api/v1/openapi.json')).json() as Promise<OpenApiDocument>,
    staleTime: Number.POSITIVE_INFINITY,
  });
  return featuresOf(data);
}
