/**
 * Parameter checks with the messages of pve-common's JSONSchema.pm, collected into one
 * 400 `Parameter verification failed.` naming every bad parameter.
 */
import { ParameterError } from './errors';

/** A format is a pattern with JSONSchema's complaint, or a check that returns the complaint (or nothing). */
type FormatCheck = readonly [RegExp, string] | ((value: string) => string | undefined);

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ipv6 = /^(?=.*:)[0-9a-fA-F:.]{2,45}$/;

/** SDN zone and vnet ids (pve-network's parse_sdn_{zone,vnet}_id): letters and digits, at most 8. */
function sdnId(kind: 'zone' | 'vnet') {
  return (id: string) => {
    if (!/^[a-z][a-z0-9]*[a-z0-9]$/i.test(id)) return `${kind} ID '${id}' contains illegal characters`;
    if (id.length > 8) return `${kind} ID '${id}' can't be more length than 8 characters`;
    return undefined;
  };
}

/** `10.0.0.0/24`, or the subnet id form `<zone>-10.0.0.0-24`. */
export function isCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  if (ipv4.test(address!)) return Number(bits) <= 32;
  return ipv6.test(address!) && Number(bits) <= 128;
}

const formats = {
  'pve-vmid': [/^[1-9][0-9]{2,8}$/, 'value does not look like a valid VM ID'],
  'pve-node': [/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, 'value does not look like a valid node name'],
  'pve-node-list': [
    /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?([,;\s]+[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/,
    'value does not look like a valid node name',
  ],
  'dns-name': [
    /^(?=.{1,255}$)([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/,
    'value does not look like a valid DNS name',
  ],
  'pve-configid': [/^[a-z][a-z0-9_-]+$/i, 'invalid configuration ID'],
  'pve-configid-list': [/^[a-z][a-z0-9_-]+([,;\s]+[a-z][a-z0-9_-]+)*$/i, 'invalid configuration ID'],
  urlencoded: [/^[-%a-zA-Z0-9_.!~*'()]*$/, 'invalid urlencoded string'],
  'pve-userid': [/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/, 'value does not look like a valid user id'],
  'pve-roleid': [/^[A-Za-z0-9.\-_]+$/, 'invalid role ID'],
  'pve-poolid': [/^[A-Za-z0-9.\-_]+$/, 'invalid pool ID'],
  'pve-groupid': (id) => (/^[A-Za-z0-9.\-_]+$/.test(id) ? undefined : `group name '${id}' contains invalid characters`),
  'pve-storage-id': (id) =>
    /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(id) ? undefined : `storage ID '${id}' contains illegal characters`,
  ip: (value) => (ipv4.test(value) || ipv6.test(value) ? undefined : 'value does not look like a valid IP address'),
  'ip-list': (value) =>
    value.split(/[,;\s]+/).every((ip) => ipv4.test(ip) || ipv6.test(ip))
      ? undefined
      : 'value does not look like a valid IP address',
  'pve-sdn-zone-id': sdnId('zone'),
  'pve-sdn-vnet-id': sdnId('vnet'),
  /** An array of `start-address=<ip>,end-address=<ip>` (repeated values arrive `\0`-joined). */
  'pve-sdn-dhcp-range': (value) => {
    for (const range of value.split('\0')) {
      const parts = Object.fromEntries(range.split(',').map((part) => part.split('=', 2)));
      for (const key of ['start-address', 'end-address']) {
        if (parts[key] === undefined) return `format error\n${key}: property is missing and it is not optional`;
      }
    }
    return undefined;
  },
  'pve-sdn-subnet-id': (id) => {
    const cidr = id.includes('/') ? id : id.split('-').slice(1, 3).join('/');
    return isCidr(cidr) ? undefined : 'value does not look like a valid CIDR network';
  },
} satisfies Record<string, FormatCheck>;

export type Format = keyof typeof formats;

export interface ParamSpec {
  type: 'string' | 'integer' | 'boolean' | 'number';
  optional?: boolean;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  format?: Format;
  /** Matched against the whole value, as JSONSchema.pm anchors `pattern`. */
  pattern?: RegExp;
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
  if (spec.pattern && !new RegExp(`^(?:${spec.pattern.source})$`, spec.pattern.flags).test(value)) {
    return 'value does not match the regex pattern';
  }
  if (spec.format) {
    const check: FormatCheck = formats[spec.format];
    if (typeof check === 'function') {
      const problem = check(value);
      if (problem) return `invalid format - ${problem}\n`;
    } else if (!check[0].test(value)) {
      return spec.format === 'urlencoded'
        ? `invalid format - ${check[1]}: ${value}\n`
        : `invalid format - ${check[1]}\n`;
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
