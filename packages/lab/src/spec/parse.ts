import { type DecodeResult, decodeSpecText, type SpecContentType } from './decode';
import { fromZodIssues, type ParseResult } from './issues';
import { labSpecSchema } from './lab-schema';
import { type Quotas, resolveQuotas } from './quotas';
import { type LabSpec, resolveLabSpec } from './resolve';
import { validateLabSpec } from './validate';

export interface ParseLabSpecOptions {
  /** How a string input is written; YAML 1.2 also reads JSON. @defaultValue 'yaml' */
  contentType?: SpecContentType;
  /** Limits this deployment must fit; fields left out keep their defaults. @defaultValue DEFAULT_QUOTAS */
  quotas?: Partial<Quotas>;
}

/**
 * Validates a lab spec given as text (YAML or JSON) or as already-decoded data, and applies its
 * defaults. Never throws: every problem comes back as an issue with its path. Shape problems are
 * reported first; the rules that span fields (references, cycles, addresses, quotas) run once the
 * shape is right.
 */
export function parseLabSpec(input: unknown, options: ParseLabSpecOptions = {}): ParseResult<'spec', LabSpec> {
  const decoded: DecodeResult =
    typeof input === 'string' ? decodeSpecText(input, options.contentType ?? 'yaml') : { ok: true, value: input };
  if (!decoded.ok) return decoded;

  const shaped = labSpecSchema.safeParse(decoded.value);
  if (!shaped.success) return { ok: false, issues: fromZodIssues(shaped.error.issues) };

  const issues = validateLabSpec(shaped.data, resolveQuotas(options.quotas));
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, spec: resolveLabSpec(shaped.data) };
}
