/**
 * Parameter specs of the firewall endpoints, and the schema checks the generic validator cannot
 * express (formats, patterns, minimum lengths), made in JSONSchema's order and words and reported
 * together as one 400.
 */
import { ParameterError } from '../errors';
import {
  checkAddressSpec,
  checkIcmpType,
  checkIpOrCidr,
  checkIpOrCidrOrAlias,
  checkObjectName,
  checkPortSpec,
  checkProtocol,
  maxAliasNameLength,
  maxGroupNameLength,
  maxIpsetNameLength,
} from '../network/firewall-specs';
import type { ParamSpec, ParamSpecs } from '../validate';
import { p } from '../validate';

const logLevels = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug', 'nolog'];

export const logLevel: ParamSpec = { type: 'string', optional: true, enum: logLevels };
export const digest: ParamSpec = { type: 'string', optional: true, maxLength: 64 };
const optInt0: ParamSpec = { type: 'integer', optional: true, minimum: 0 };

/** The fields of a rule (POST/PUT), as pve-firewall declares them. */
export const ruleParams: ParamSpecs = {
  pos: optInt0,
  digest,
  type: { type: 'string', optional: true, enum: ['in', 'out', 'forward', 'group'] },
  action: { type: 'string', optional: true, maxLength: 20 },
  macro: { type: 'string', optional: true, maxLength: 128 },
  iface: { type: 'string', optional: true, maxLength: 20 },
  source: { type: 'string', optional: true, maxLength: 512 },
  dest: { type: 'string', optional: true, maxLength: 512 },
  proto: p.str,
  enable: optInt0,
  log: logLevel,
  sport: p.str,
  dport: p.str,
  comment: p.str,
  'icmp-type': p.str,
};

export const ruleUpdateParams: ParamSpecs = { ...ruleParams, moveto: optInt0, delete: p.str };

/** A check for one parameter: its complaint, or undefined. */
type Check = (value: string) => string | undefined;

const withFormat =
  (check: Check): Check =>
  (value) => {
    const problem = check(value);
    return problem ? `invalid format - ${problem}\n` : undefined;
  };

export const nameChecks = {
  group: (value: string) => checkObjectName(value, maxGroupNameLength),
  ipset: (value: string) => checkObjectName(value, maxIpsetNameLength),
  alias: (value: string) => checkObjectName(value, maxAliasNameLength),
};

/** Schema checks of rule fields (formats, the action pattern, iface length). */
export const ruleChecks: Record<string, Check> = {
  action: (value) => (/^[A-Za-z][A-Za-z0-9\-_]+$/.test(value) ? undefined : 'value does not match the regex pattern'),
  iface: (value) => (value.length < 2 ? 'value must be at least 2 characters long' : undefined),
  source: withFormat((value) => checkAddressSpec(value).error),
  dest: withFormat((value) => checkAddressSpec(value).error),
  proto: withFormat(checkProtocol),
  dport: withFormat((value) => checkPortSpec(value, true)),
  sport: withFormat((value) => checkPortSpec(value, false)),
  'icmp-type': withFormat(checkIcmpType),
  delete: (value) =>
    /^[a-z][a-z0-9_-]+([,;\s]+[a-z][a-z0-9_-]+)*$/i.test(value)
      ? undefined
      : 'invalid format - invalid configuration ID\n',
};

export const cidrChecks = {
  cidr: withFormat(checkIpOrCidr),
  cidrOrAlias: withFormat(checkIpOrCidrOrAlias),
};

/** Runs `checks` over the given parameters (empty values skipped, as PVE treats them as unset). */
export function checkParams(params: Record<string, string>, checks: Record<string, Check | undefined>): void {
  const errors: Record<string, string> = {};
  for (const [name, check] of Object.entries(checks)) {
    const value = params[name];
    if (value === undefined || value === '' || !check) continue;
    const problem = check(value);
    if (problem) errors[name] = problem;
  }
  if (Object.keys(errors).length > 0) throw new ParameterError(errors);
}

/** PVE's list splitting (`a,b c;d`). */
export function splitList(value: string | undefined): string[] {
  return (value ?? '').split(/[,;\s]+/).filter(Boolean);
}
