import { appendEvent } from '@glassdome/db';
import type { JobPayload } from '@glassdome/queue';
import type { GatewayContext } from './context';
import { onNode, onNodeTolerating } from './node-shell';

/** One role per privilege, holding only it: a grant never gives more than the missing privilege. */
export function roleFor(privilege: string): string {
  return `Glassdome${privilege.replaceAll('.', '')}`;
}

/**
 * Grants exactly the requested privileges on exactly the requested path, over SSH with `pveum`. A
 * token with privilege separation gets the intersection of its own and its user's rights, so both
 * the token and its user receive the grant.
 */
export async function grantPermission(ctx: GatewayContext, job: JobPayload<'permission.grant'>) {
  const granted: string[] = [];
  for (const privilege of job.privileges) {
    const role = roleFor(privilege);
    await onNodeTolerating(ctx, ['pveum', 'role', 'add', role, '--privs', privilege], /already exists/);
    const [user] = job.principal.split('!');
    await onNode(ctx, ['pveum', 'acl', 'modify', job.path, '--users', user!, '--roles', role]);
    if (job.principal.includes('!')) {
      await onNode(ctx, ['pveum', 'acl', 'modify', job.path, '--tokens', job.principal, '--roles', role]);
    }
    granted.push(role);
  }
  await appendEvent(ctx.db, {
    vmId: job.vmId ?? null,
    labId: job.labId ?? null,
    kind: 'permission.granted',
    message: `granted ${job.privileges.join(', ')} on ${job.path} to ${job.principal} (${job.reason})`,
    data: { path: job.path, principal: job.principal, privileges: job.privileges, roles: granted },
  });
  return { path: job.path, principal: job.principal, roles: granted };
}
