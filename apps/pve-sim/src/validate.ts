/**
 * Parameter checks with the messages of pve-common's JSONSchema.pm, collected into one
 * 400 `Parameter verification failed.` naming every bad parameter.
 */
import { ParameterError } from './errors';

const formats = {
  'pve-vmid': [/^[1-9][0-9]{2,8}$/, 'value does not look like a valid VM ID'],
  'pve-node': [/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, 'value does not look like a valid node name'],
  'dns-name': [
    /^(?=.{1,255}$)([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/,
    'value does not look like a valid DNS name',
  ],
  'pve-configid': [/^[a-z][a-z0-9_-]+$/i, 'invalid configuration ID'],
  urlencoded: [/^[-%a-zA-Z0-9_.!~*'()]*$/, 'invalid urlencoded string'],
  'pve-userid': [/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/, 'value does not look like a valid user id'],
  'pve-roleid': [/^[A-Za-z0-9.\-_]+$/, 'invalid role ID'],
  'pve-poolid': [/^[A-Za-z0-9.\-_]+$/, 'invalid pool ID'],
} as const;

export type Format = keyof typeof formats;

export interface ParamSpec {
  type: 'string' | 'integer' | 'boolean' | 'number';
  optional?: boolean;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  format?: Format;
  maxLength?: number;
}

export type ParamSpecs = Record<string, ParamSpec>;

/** Shorthands for the common parameter kinds. */
export const p = {
  node: { type: 'string', format: 'pve-node' } as ParamSpec,
  vmid: { type: 'integer', minimum: 100, maximum: 999999999 } as ParamSpec,
  optVmid: { type: 'integer', minimum: 100, maximum: 999999999, optional: true } as ParamSpec,
  bool: { type: 'boolean', optional: true } as ParamSpec,
  int: { type: 'integer', optional: true } as ParamSpec,
  str: { type: 'string', optional: true } as ParamSpec,
  reqStr: { type: 'string' } as ParamSpec,
};

function checkOne(name: string, value: string, spec: ParamSpec): string | undefined {
  if (spec.type === 'boolean' && !/^(0|1)$/.test(value)) return `type check ('boolean') failed - got '${value}'`;
  if (spec.type === 'integer' && !/^[+-]?\d+$/.test(value)) return `type check ('integer') failed - got '${value}'`;
  if (spec.type === 'number' && !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) {
    return `type check ('number') failed - got '${value}'`;
  }
  if (spec.type === 'integer' || spec.type === 'number') {
    const n = Number(value);
    if (spec.minimum !== undefined && n < spec.minimum) return `value must have a minimum value of ${spec.minimum}`;
    if (spec.maximum !== undefined && n > spec.maximum) return `value must have a maximum value of ${spec.maximum}`;
  }
  if (spec.maxLength !== undefined && value.length > spec.maxLength) {
    return `value may only be ${spec.maxLength} characters long`;
  }
  if (spec.enum && !spec.enum.includes(value)) {
    return `value '${value}' does not have a value in the enumeration '${spec.enum.join(', ')}'`;
  }
  if (spec.format) {
    const [pattern, problem] = formats[spec.format];
    if (!pattern.test(value)) {
      return spec.format === 'urlencoded' ? `invalid format - ${problem}: ${value}\n` : `invalid format - ${problem}\n`;
    }
  }
  void name;
  return undefined;
}

/**
 * Validates `params` against `specs`; names not in `specs` are asked of `extra` (for open key
 * families such as VM config keys) and otherwise rejected. Throws one ParameterError for all.
 */
export function validateParams(
  params: Record<string, string>,
  specs: ParamSpecs,
  extra?: (name: string) => ParamSpec | undefined,
): void {
  const errors: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (params[name] === undefined && !spec.optional) errors[name] = 'property is missing and it is not optional';
  }
  for (const [name, value] of Object.entries(params)) {
    const spec = specs[name] ?? extra?.(name);
    if (!spec) {
      errors[name] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    const problem = checkOne(name, value, spec);
    if (problem) errors[name] = problem;
  }
  if (Object.keys(errors).length > 0) throw new ParameterError(errors);
}

/** A boolean parameter's value (`1`/`0`), or `fallback` when absent. */
export const flag = (value: string | undefined, fallback = false) => (value === undefined ? fallback : value === '1');
