/** What the SDN endpoints share: pve-network's lock wording, the three views, digests, deletes, vnet access. */
import { ApiError, fail } from '../errors';
import { requirePrivileges } from '../permissions';
import type { HandlerContext } from '../router';
import { editedSdn, pendingObjects, runningSdn, type SdnKind, sdnDigest } from '../sdn';
import type { ClusterState, SdnVnet } from '../state/types';
import type { ParamSpec } from '../validate';

/** A parameter error raised inside the config lock, as the lock helper's text shows it. */
export class LockedParamError extends Error {
  constructor(readonly errors: Record<string, string>) {
    super(
      `400 Parameter verification failed.\n${Object.entries(errors)
        .map(([key, text]) => `${key}: ${text}\n`)
        .join('')}`,
    );
  }
}

/** Runs an edit as pve-network's lock_sdn_config does: any failure becomes `500 <what> failed: <error>`. */
export function underSdnLock<T>(what: string, edit: () => T): T {
  try {
    return edit();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new ApiError(500, `${what}: ${text.endsWith('\n') ? text : `${text}\n`}`);
  }
}

/** The objects a GET shows: edited (default), `running=1` the applied ones, `pending=1` the difference. */
export function viewOf(state: ClusterState, kind: SdnKind, params: Record<string, string>) {
  if (params.pending === '1') return { objects: pendingObjects(state, kind), digest: undefined };
  if (params.running === '1') {
    return { objects: runningSdn(state)[kind] as Record<string, Record<string, unknown>>, digest: undefined };
  }
  return {
    objects: editedSdn(state)[kind] as Record<string, Record<string, unknown>>,
    digest: sdnDigest(state, kind),
  };
}

export const withDigest = (item: Record<string, unknown>, digest: string | undefined) =>
  digest === undefined ? item : { ...item, digest };

/** `digest=` must match the current config (section-config assert_if_modified). */
export function checkDigest(state: ClusterState, kind: SdnKind, digest: string | undefined) {
  if (digest && digest !== sdnDigest(state, kind)) {
    fail('detected modified configuration - file changed by other user? Try again.');
  }
}

/** `delete=a,b`: each must be an optional option of the object's type (section-config delete_from_config). */
export function deleteOptions(
  target: Record<string, unknown>,
  options: { required: string[]; optional: string[] },
  params: Record<string, string>,
) {
  for (const key of (params.delete ?? '').split(/[,;\s\0]+/).filter(Boolean)) {
    if (options.required.includes(key)) fail(`unable to delete required option '${key}'`);
    if (!options.optional.includes(key)) fail(`no such option '${key}'`);
    if (params[key] !== undefined) fail(`cannot set and delete property '${key}' at the same time!`);
    delete target[key];
  }
}

/** The edited vnet (its zone decides the ACL path), or 500 `sdn vnet '<id>' does not exist`. */
export function requireEditedVnet(state: ClusterState, id: string | undefined): SdnVnet {
  if (!id) fail('no sdn vnet ID specified');
  const vnet = editedSdn(state).vnets[id];
  if (!vnet) fail(`sdn vnet '${id}' does not exist`);
  return vnet;
}

/** pve-network's check_vnet_access: privileges on `/sdn/zones/<zone>/<vnet>`. */
export function checkVnetAccess(ctx: HandlerContext, id: string | undefined, privs: string[]): SdnVnet {
  const vnet = requireEditedVnet(ctx.sim.state, id);
  requirePrivileges(ctx.sim.state, ctx.who, `/sdn/zones/${vnet.zone}/${vnet.vnet}`, privs, { any: true });
  return vnet;
}

export const vnetId: ParamSpec = { type: 'string', format: 'pve-sdn-vnet-id' };
