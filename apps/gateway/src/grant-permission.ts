/**
 * The `permission.grant` job: grants privileges on one ACL path to a user or token, over SSH as root
 * with `pveum`, and is careful about three things.
 *
 * - It checks what it is asked against the same allowlist as `POST /permissions` (Redis is not a
 *   trusted channel), and a repair grant (one with a `vmId`, from a 403 during a deploy) against the
 *   narrower repair allowlist, for Glassdome's own token only, on a template Glassdome registered or a
 *   VM it owns. A refused grant fails for good without a single Proxmox call.
 * - Proxmox evaluates ACLs from `/` down and an entry on a deeper path replaces what the principal
 *   inherited there. So the grant is a role holding what the principal already has on that path plus
 *   what was asked: a repair of VM.Clone on a template keeps VM.Audit, and nothing is lost.
 * - It is idempotent: nothing happens when the privileges are held already, and the role is named
 *   after its privilege set, so one path and set make one role and one ACL entry however many
 *   requests raced for it.
 */
import { createHash } from 'node:crypto';
import { vars } from '@glassdome/config';
import { appendEvent, findTemplateByVmid, findVmByVmid } from '@glassdome/db';
import {
  grantProblems,
  type JobPayload,
  PermanentError,
  repairProblems,
  TEMPLATE_REPAIR_PRIVILEGES,
} from '@glassdome/queue';
import type { GatewayContext } from './context';
import { onNode, onNodeTolerating } from './node-shell';

type Grant = JobPayload<'permission.grant'>;

/** Where the grant's decision and the job's payload disagree: fails the job, touches nothing. */
export class GrantRefusedError extends PermanentError {
  constructor(problems: string[]) {
    super(`grant refused: ${problems.join('; ')}`);
    this.name = 'GrantRefusedError';
  }
}

/** The role holding exactly `privileges`, named after them, so equal sets share one role. */
export function roleFor(privileges: readonly string[]): { name: string; privileges: string[] } {
  const sorted = [...new Set(privileges)].sort();
  const digest = createHash('sha256').update(sorted.join(',')).digest('hex').slice(0, 12);
  return { name: `Glassdome${digest}`, privileges: sorted };
}

/** The template VMIDs the operator configured (TEMPLATE_VMIDS). */
function configuredTemplates(ctx: GatewayContext): Set<number> {
  return new Set(vars.parseTemplateVmids(ctx.env.TEMPLATE_VMIDS).values());
}

/** Why a repair grant may not run: it must be for our own token, on a template we registered or a VM we own. */
async function repairRefusals(ctx: GatewayContext, grant: Grant): Promise<string[]> {
  const problems = repairProblems(grant);
  if (grant.principal !== ctx.env.PROXMOX_TOKEN_ID)
    problems.push(`repair grants go to ${ctx.env.PROXMOX_TOKEN_ID} only`);
  const vm = /^\/vms\/(\d+)$/.exec(grant.path);
  if (vm) {
    const vmid = Number(vm[1]);
    const template =
      configuredTemplates(ctx).has(vmid) || Boolean(await findTemplateByVmid(ctx.db, grant.platformId, vmid));
    const ours = template ? undefined : await findVmByVmid(ctx.db, vmid, ['destroyed']);
    if (template) {
      const extra = grant.privileges.filter((p) => !TEMPLATE_REPAIR_PRIVILEGES.includes(p as never));
      if (extra.length > 0)
        problems.push(`on a template repair grants only VM.Clone and VM.Audit, not ${extra.join(', ')}`);
    } else if (!ours) {
      problems.push(`VMID ${vmid} is neither a template Glassdome registered nor a VM it owns`);
    } else if (grant.privileges.includes('VM.Clone')) {
      problems.push('VM.Clone is granted on templates only');
    }
  }
  return problems;
}

/** Every reason the job may not run; checked before any Proxmox call. */
export async function grantRefusals(ctx: GatewayContext, grant: Grant): Promise<string[]> {
  // The payload schema already applied the allowlists; checking here too keeps the handler safe
  // whoever calls it.
  if (grant.vmId) return repairRefusals(ctx, grant);
  return grantProblems(grant);
}

/** Effective privileges of a user (or `user!token`) on one path, as root sees them. */
async function heldOn(ctx: GatewayContext, principal: string, path: string): Promise<Set<string>> {
  const [user, token] = principal.split('!');
  const argv = token
    ? ['pveum', 'user', 'token', 'permissions', user!, token, '--path', path, '--output-format', 'json']
    : ['pveum', 'user', 'permissions', user!, '--path', path, '--output-format', 'json'];
  const output = (await onNode(ctx, argv, 60_000)).trim();
  const parsed = output ? (JSON.parse(output) as Record<string, Record<string, unknown>>) : {};
  return new Set(Object.keys(parsed[path] ?? {}));
}

async function assign(
  ctx: GatewayContext,
  path: string,
  who: '--users' | '--tokens',
  principal: string,
  privileges: string[],
) {
  const role = roleFor(privileges);
  await onNodeTolerating(
    ctx,
    ['pveum', 'role', 'add', role.name, '--privs', role.privileges.join(',')],
    /already exists/,
  );
  await onNode(ctx, ['pveum', 'acl', 'modify', path, who, principal, '--roles', role.name]);
  return role.name;
}

export async function grantPermission(ctx: GatewayContext, grant: Grant) {
  const problems = await grantRefusals(ctx, grant);
  const refs = { vmId: grant.vmId ?? null, labId: grant.labId ?? null };
  if (problems.length > 0) {
    await appendEvent(ctx.db, {
      ...refs,
      kind: 'permission.refused',
      message: `refused to grant ${grant.privileges.join(', ')} on ${grant.path} to ${grant.principal}: ${problems.join('; ')}`,
      data: { path: grant.path, principal: grant.principal, privileges: grant.privileges, problems },
    });
    throw new GrantRefusedError(problems);
  }

  const [user] = grant.principal.split('!');
  const isToken = grant.principal.includes('!');
  const heldByPrincipal = await heldOn(ctx, grant.principal, grant.path);
  const missing = grant.privileges.filter((p) => !heldByPrincipal.has(p));
  if (missing.length === 0) {
    await appendEvent(ctx.db, {
      ...refs,
      kind: 'permission.already-held',
      message: `${grant.principal} already holds ${grant.privileges.join(', ')} on ${grant.path} (${grant.reason})`,
      data: { path: grant.path, principal: grant.principal, privileges: grant.privileges },
    });
    return { path: grant.path, principal: grant.principal, roles: [], granted: false };
  }

  // What each already holds here, plus what was asked: the deeper entry replaces inherited ones.
  const heldByUser = isToken ? await heldOn(ctx, user!, grant.path) : heldByPrincipal;
  const roles = [await assign(ctx, grant.path, '--users', user!, [...heldByUser, ...grant.privileges])];
  if (isToken)
    roles.push(await assign(ctx, grant.path, '--tokens', grant.principal, [...heldByPrincipal, ...grant.privileges]));
  await appendEvent(ctx.db, {
    ...refs,
    kind: 'permission.granted',
    message: `granted ${missing.join(', ')} on ${grant.path} to ${grant.principal}, keeping what it held there (${grant.reason})`,
    data: {
      path: grant.path,
      principal: grant.principal,
      privileges: grant.privileges,
      kept: [...heldByPrincipal].sort(),
      roles,
    },
  });
  return { path: grant.path, principal: grant.principal, roles, granted: true };
}
