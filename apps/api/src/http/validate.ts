import type { SpecIssue } from '@glassdome/lab';
import type { z } from 'zod';
import { type FieldIssue, ValidationError } from '../errors';

/** Where a value came from; query and path parameters are named in the issue path, body fields are not. */
export type Source = 'body' | 'query' | 'params';

function joinPath(source: Source, path: readonly PropertyKey[]): string {
  const parts = path.map(String);
  return (source === 'body' ? parts : [source, ...parts]).join('.');
}

/** One issue per unknown key, so a client sees each offending field by its own path. */
function toFieldIssues(source: Source, issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: joinPath(source, [...issue.path, key]), message: 'unknown field' }))
      : [{ path: joinPath(source, issue.path), message: issue.message }],
  );
}

/** Parses `value` or throws a ValidationError listing every failing field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, source: Source): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(toFieldIssues(source, result.error.issues));
  return result.data;
}

/** The lab package's issues (path arrays) as the API's field issues. */
export function specIssuesToFieldIssues(issues: readonly SpecIssue[]): FieldIssue[] {
  return issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}
