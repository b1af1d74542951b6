/**
 * A spec may name the template to clone (`template: 9000` or a template's name). Glassdome clones
 * only templates it registered (the templates table: built or adopted through POST /templates, in
 * the caller's project or published) or that the operator configured (TEMPLATE_VMIDS); anything else
 * is a 400 naming the field. Without this, a 403 on the clone would make permission repair grant
 * VM.Clone on whatever VM the spec named.
 */
import { findTemplateByVmid, findTemplatesByName, type Scope } from '@glassdome/db';
import type { LabSpec } from '@glassdome/lab';

/** A spec's `template`: a VMID or a template's name. */
type TemplateRef = NonNullable<LabSpec['vms'][number]['template']>;

import type { ApiContext } from '../context';
import { type FieldIssue, ValidationError } from '../errors';

export interface NamedTemplate {
  /** Where the reference sits in the request, e.g. `vms.1.template`. */
  path: string;
  ref: TemplateRef;
}

async function problemOf(ctx: ApiContext, scope: Scope, ref: TemplateRef): Promise<string | undefined> {
  if (typeof ref === 'number') {
    if ([...ctx.templateVmids.values()].includes(ref)) return undefined;
    const row = await findTemplateByVmid(ctx.db, ctx.platformId, ref, scope);
    if (!row) return `VMID ${ref} is not a template Glassdome registered (POST /templates adopts one)`;
    if (row.status !== 'ready') return `template ${ref} is ${row.status}, not ready`;
    return undefined;
  }
  const rows = await findTemplatesByName(ctx.db, ctx.platformId, ref, scope);
  if (rows.length === 0) return `${ref} is not the name of a template Glassdome registered`;
  if (!rows.some((row) => row.status === 'ready')) return `template ${ref} is not ready`;
  return undefined;
}

/** Throws one ValidationError listing every named template the caller may not clone. */
export async function requireRegisteredTemplates(
  ctx: ApiContext,
  scope: Scope,
  named: readonly NamedTemplate[],
): Promise<void> {
  const issues: FieldIssue[] = [];
  for (const { path, ref } of named) {
    const problem = await problemOf(ctx, scope, ref);
    if (problem) issues.push({ path, message: problem });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'the request names a template Glassdome did not register');
}
