/**
 * Firewall options of the cluster, a node and a VM: GET answers what is set plus its digest
 * (nothing set = PVE's defaults apply), PUT sets and `delete`s keys with a digest check.
 */
import { fail, ParameterError } from '../errors';
import { objectDigest } from '../network/firewall-config';
import type { HandlerContext } from '../router';
import type { ParamSpec, ParamSpecs } from '../validate';
import { p } from '../validate';
import { digest, logLevel, splitList } from './firewall-params';

const policy: ParamSpec = { type: 'string', optional: true, enum: ['ACCEPT', 'REJECT', 'DROP'] };

/** Options of cluster.fw's [OPTIONS]. */
export const clusterOptions: ParamSpecs = {
  enable: { type: 'integer', optional: true, minimum: 0 },
  ebtables: p.bool,
  policy_in: policy,
  policy_out: policy,
  policy_forward: { type: 'string', optional: true, enum: ['ACCEPT', 'DROP'] },
  log_ratelimit: p.str,
};

/** Options of host.fw. */
export const hostOptions: ParamSpecs = {
  enable: p.bool,
  log_level_in: logLevel,
  log_level_out: logLevel,
  log_level_forward: logLevel,
  tcp_flags_log_level: logLevel,
  smurf_log_level: logLevel,
  nosmurfs: p.bool,
  tcpflags: p.bool,
  nf_conntrack_max: { type: 'integer', optional: true, minimum: 32768 },
  nf_conntrack_tcp_timeout_established: { type: 'integer', optional: true, minimum: 7875 },
  nf_conntrack_tcp_timeout_syn_recv: { type: 'integer', optional: true, minimum: 30, maximum: 60 },
  ndp: p.bool,
  nf_conntrack_allow_invalid: p.bool,
  nf_conntrack_helpers: p.str,
  protection_synflood: p.bool,
  protection_synflood_rate: p.int,
  protection_synflood_burst: p.int,
  log_nf_conntrack: p.bool,
  nftables: p.bool,
};

/** Options of <vmid>.fw. */
export const vmOptions: ParamSpecs = {
  enable: p.bool,
  macfilter: p.bool,
  dhcp: p.bool,
  ndp: p.bool,
  radv: p.bool,
  ipfilter: p.bool,
  policy_in: policy,
  policy_out: policy,
  log_level_in: logLevel,
  log_level_out: logLevel,
};

const conntrackHelpers = ['amanda', 'ftp', 'irc', 'netbios-ns', 'pptp', 'sane', 'sip', 'snmp', 'tftp'];

/** Format checks the specs cannot say. */
function checkOptionValues(params: Record<string, string>): void {
  const errors: Record<string, string> = {};
  const ratelimit = params.log_ratelimit;
  if (
    ratelimit !== undefined &&
    !/^(enable=)?[01](,burst=\d+)?(,rate=[1-9]\d*\/(second|minute|hour|day))?$/.test(ratelimit)
  ) {
    errors.log_ratelimit = 'invalid format - unable to parse value\n';
  }
  const helpers = params.nf_conntrack_helpers;
  if (helpers) {
    const unknown = helpers.split(',').find((helper) => !conntrackHelpers.includes(helper));
    if (unknown !== undefined) errors.nf_conntrack_helpers = `invalid format - unknown helper ${unknown}`;
  }
  if (Object.keys(errors).length > 0) throw new ParameterError(errors);
}

/** GET: the options set, with their digest. */
export function readOptions(options: Record<string, string | number>) {
  return { ...options, digest: objectDigest(options) };
}

/**
 * PUT: digest check, `delete`, then the given options stored in PVE's types (numbers for
 * booleans and integers). Returns the options the caller set.
 */
export function writeOptions(
  ctx: HandlerContext,
  options: Record<string, string | number>,
  specs: ParamSpecs,
): Record<string, string | number> {
  checkOptionValues(ctx.params);
  if (ctx.params.digest && ctx.params.digest !== objectDigest(options)) {
    fail('detected modified configuration - file changed by other user? Try again.');
  }
  for (const name of splitList(ctx.params.delete)) {
    if (!specs[name]) throw new ParameterError({ delete: `no such option '${name}'` });
    delete options[name];
  }
  const set: Record<string, string | number> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = ctx.params[name];
    if (value === undefined) continue;
    set[name] = spec.type === 'string' ? value : Number(value);
  }
  Object.assign(options, set);
  return set;
}

/** The parameters of an options PUT: the options plus `delete` and `digest`. */
export function optionParams(specs: ParamSpecs): ParamSpecs {
  return { ...specs, delete: p.str, digest };
}
