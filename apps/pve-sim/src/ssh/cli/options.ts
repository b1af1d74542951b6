/**
 * Command-line option parsing as PVE's CLI handlers do it (pve-common JSONSchema get_options on top
 * of Getopt::Long): `--opt value`, `-opt value`, `--opt=value`, unique prefixes of option names,
 * booleans with an optional value, repeated list options, then positional parameters in order.
 */

export interface OptionSpec {
  /** Positional parameter names, in order (e.g. `['vmid', 'newid']`). */
  positional: string[];
  /** Names of the options the command accepts (without dashes). */
  options: readonly string[];
  /** Options whose value is optional and means 1 when omitted. */
  booleans?: readonly string[];
  /** Accept option names outside `options` too (`pvesh` passes them to whatever API path it calls). @defaultValue false */
  anyOptions?: boolean;
  /** Options that may be repeated; their values are joined with `separator`. */
  lists?: readonly string[];
  /** @defaultValue ',' */
  listSeparator?: string;
}

export interface ParsedCommandLine {
  positional: Record<string, string>;
  options: Record<string, string>;
}

/**
 * Raised for anything PVE reports as a 400 before the handler runs. `lines` are printed first (e.g.
 * `Unknown option: foo`), then `400 <message>`, then the `errors` map, one `param: message` per line.
 */
export class CliParameterError extends Error {
  constructor(
    message: string,
    readonly errors: Record<string, string> = {},
    readonly lines: string[] = [],
  ) {
    super(message);
    this.name = 'CliParameterError';
  }
}

const TRUE_WORDS = new Set(['1', 'yes', 'true', 'on', '']);
const FALSE_WORDS = new Set(['0', 'no', 'false', 'off']);

/** Parses `args` (everything after the sub-command words) against `spec`. */
export function parseCommandLine(args: string[], spec: OptionSpec): ParsedCommandLine {
  const options: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--?([A-Za-z][\w.-]*)(?:=(.*))?$/s.exec(arg);
    if (!match || arg === '-' || /^-\d/.test(arg)) {
      rest.push(arg);
      continue;
    }
    const name =
      spec.anyOptions && !spec.options.includes(match[1]!) ? match[1]! : resolveOptionName(match[1]!, spec.options);
    let value = match[2];
    const flagLike = spec.booleans?.includes(name) || (spec.anyOptions && !spec.options.includes(name));
    if (value === undefined) {
      const next = args[i + 1];
      if (flagLike && (next === undefined || /^--?[A-Za-z]/.test(next))) {
        value = '1';
      } else {
        if (next === undefined) {
          throw new CliParameterError('unable to parse option', {}, [`Option ${match[1]} requires an argument`]);
        }
        value = next;
        i++;
      }
    }
    if (spec.booleans?.includes(name)) value = normaliseBoolean(name, value);
    options[name] = name in options && spec.lists?.includes(name) ? joinList(options[name]!, value, spec) : value;
  }
  return { positional: assignPositional(rest, spec.positional), options };
}

/** Exact name, else the one option `prefix` abbreviates; Getopt::Long's messages otherwise. */
function resolveOptionName(given: string, names: readonly string[]): string {
  if (names.includes(given)) return given;
  const candidates = names.filter((name) => name.startsWith(given));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) {
    throw new CliParameterError('unable to parse option', {}, [
      `Option ${given} is ambiguous (${candidates.join(', ')})`,
    ]);
  }
  throw new CliParameterError('unable to parse option', {}, [`Unknown option: ${given}`]);
}

function normaliseBoolean(name: string, value: string): string {
  const lower = value.toLowerCase();
  if (TRUE_WORDS.has(lower)) return '1';
  if (FALSE_WORDS.has(lower)) return '0';
  throw new CliParameterError('Parameter verification failed.', {
    [name]: `type check ('boolean') failed - got '${value}'`,
  });
}

function joinList(previous: string, value: string, spec: OptionSpec): string {
  return `${previous}${spec.listSeparator ?? ','}${value}`;
}

function assignPositional(values: string[], names: string[]): Record<string, string> {
  if (values.length > names.length) throw new CliParameterError('too many arguments');
  if (values.length < names.length) throw new CliParameterError('not enough arguments');
  return Object.fromEntries(names.map((name, index) => [name, values[index]!]));
}
