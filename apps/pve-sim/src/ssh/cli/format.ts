/**
 * Output formats of PVE's CLIFormatter: UTF-8 bordered text tables, canonical one-line JSON and
 * Perl's "pretty" JSON (3-space indent, `"key" : value`, sorted keys).
 */
import { CliParameterError } from './options';

export type OutputFormat = 'text' | 'json' | 'json-pretty';

/** The `--output-format` option (and friends) every formatting command accepts. */
export const formatterOptions = ['output-format', 'noborder', 'noheader', 'quiet', 'human-readable'] as const;
export const formatterBooleans = ['noborder', 'noheader', 'quiet', 'human-readable'] as const;

/** Reads `--output-format`, refusing values PVE does not know. */
export function outputFormatOf(options: Record<string, string>): OutputFormat {
  const format = options['output-format'] ?? 'text';
  if (format === 'text' || format === 'json' || format === 'json-pretty') return format;
  throw new CliParameterError('Parameter verification failed.', {
    'output-format': `value '${format}' does not have a value in the enumeration 'text, json, json-pretty, yaml'`,
  });
}

/** JSON with object keys sorted, on one line (JSON->canonical). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** JSON->pretty->canonical: 3-space indentation and ` : ` between key and value. */
export function perlPrettyJson(value: unknown, indent = ''): string {
  const inner = `${indent}   `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => inner + perlPrettyJson(item, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    const entries = keys.map(
      (key) => `${inner}${JSON.stringify(key)} : ${perlPrettyJson((value as Record<string, unknown>)[key], inner)}`,
    );
    return `{\n${entries.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value ?? null);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export interface TableOptions {
  /** Print `+`/`|` free output without the box (`--noborder`). @defaultValue false */
  noborder?: boolean;
  /** Leave out the header row (`--noheader`). @defaultValue false */
  noheader?: boolean;
}

/** A bordered text table; numeric columns are right-aligned, as PVE aligns integer properties. */
export function textTable(columns: string[], rows: Array<Record<string, unknown>>, options: TableOptions = {}): string {
  const cells = rows.map((row) => columns.map((column) => cellText(row[column])));
  const numeric = columns.map(
    (_, index) => cells.length > 0 && cells.every((row) => /^-?\d+(\.\d+)?$|^$/.test(row[index]!)),
  );
  const widths = columns.map((column, index) =>
    Math.max(options.noheader ? 0 : column.length, ...cells.map((row) => row[index]!.length)),
  );
  const line = (values: string[], alignNumbers: boolean) =>
    values.map((value, index) =>
      alignNumbers && numeric[index] ? value.padStart(widths[index]!) : value.padEnd(widths[index]!),
    );
  if (options.noborder) {
    const out = options.noheader ? [] : [line(columns, false).join(' ').trimEnd()];
    for (const row of cells) out.push(line(row, true).join(' ').trimEnd());
    return out.map((text) => `${text}\n`).join('');
  }
  const rule = (left: string, fill: string, middle: string, right: string) =>
    left + widths.map((width) => fill.repeat(width + 2)).join(middle) + right;
  const out = [rule('┌', '─', '┬', '┐')];
  if (!options.noheader) out.push(`│ ${line(columns, false).join(' │ ')} │`, rule('╞', '═', '╪', '╡'));
  cells.forEach((row, index) => {
    if (index > 0) out.push(rule('├', '─', '┼', '┤'));
    out.push(`│ ${line(row, true).join(' │ ')} │`);
  });
  out.push(rule('└', '─', '┴', '┘'));
  return out.map((text) => `${text}\n`).join('');
}

function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return canonicalJson(value);
  return String(value);
}

/**
 * Prints an API result as `pvesh`/`pveum` do: scalars bare, objects as a key/value table, lists of
 * objects as a table with one column per property; or JSON in either form.
 */
export function formatResult(data: unknown, format: OutputFormat, options: TableOptions = {}): string {
  if (format === 'json') return `${canonicalJson(data)}\n`;
  if (format === 'json-pretty') return `${perlPrettyJson(data)}\n`;
  if (data === null || data === undefined) return '';
  if (Array.isArray(data)) {
    if (data.length === 0) return '';
    if (data.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item))) {
      const columns = [...new Set(data.flatMap((item) => Object.keys(item as object)))].sort();
      return textTable(columns, data as Array<Record<string, unknown>>, options);
    }
    return data.map((item) => `${cellText(item)}\n`).join('');
  }
  if (typeof data === 'object') {
    const rows = Object.keys(data)
      .sort()
      .map((key) => ({ key, value: (data as Record<string, unknown>)[key] }));
    return textTable(['key', 'value'], rows, options);
  }
  return `${String(data)}\n`;
}
