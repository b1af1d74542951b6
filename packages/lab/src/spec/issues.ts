import type { z } from 'zod';

/** One problem with an input, located by its path (e.g. ['vms', 2, 'dependsOn', 0]). */
export interface SpecIssue {
  path: (string | number)[];
  message: string;
}

export type ParseResult<K extends string, T> = ({ ok: true } & { [key in K]: T }) | { ok: false; issues: SpecIssue[] };

type ZodIssue = z.core.$ZodIssue;

function pathOf(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((key) => (typeof key === 'number' ? key : String(key)));
}

/** Root-level problems that mean the input was not of a union branch's kind at all. */
const NOT_THIS_BRANCH = new Set(['unrecognized_keys', 'invalid_type', 'invalid_value']);

/**
 * A union failed: when exactly one branch got past the shape check (its input had that branch's
 * keys or type, and was not merely some other literal), that branch's own problems explain the
 * failure better than "matches no branch".
 */
function closestBranch(issue: z.core.$ZodIssueInvalidUnion): ZodIssue[] | undefined {
  const plausible = issue.errors.filter(
    (branch) => !branch.some((inner) => inner.path.length === 0 && NOT_THIS_BRANCH.has(inner.code)),
  );
  return plausible.length === 1 ? plausible[0] : undefined;
}

function flatten(issue: ZodIssue, prefix: (string | number)[]): SpecIssue[] {
  const path = [...prefix, ...pathOf(issue.path)];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }));
  }
  if (issue.code === 'invalid_union') {
    const branch = closestBranch(issue);
    if (branch) return branch.flatMap((inner) => flatten(inner, path));
  }
  return [{ path, message: issue.message }];
}

/** zod's issues in Glassdome's shape: one issue per unknown key, unions explained by their closest branch. */
export function fromZodIssues(issues: readonly ZodIssue[]): SpecIssue[] {
  return issues.flatMap((issue) => flatten(issue, []));
}
