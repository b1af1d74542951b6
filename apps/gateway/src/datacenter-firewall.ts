/**
 * The datacenter firewall's switch. Labs are contained by per-VM firewall rules, which pve-firewall
 * applies only while the cluster-wide `enable` option is on; so before a lab network is made the
 * gateway checks it, and switches it on when it is off (FIREWALL_AUTO_ENABLE, the default) or
 * refuses the network for good (FIREWALL_AUTO_ENABLE=0). PVE keeps its anti-lockout rules for the
 * node's own management when the switch goes on.
 *
 * The check is remembered per context for RECHECK_MS, so a class making a hundred networks asks once,
 * while a switch turned off behind Glassdome's back is noticed by the next lab after that; a failed
 * check is not remembered (the next network asks again).
 */
import { PermanentError } from '@glassdome/queue';
import { onNode, pveshGet, sharedFor } from './node-shell';

/** How long a successful check counts. */
export const RECHECK_MS = 30_000;

/** Resolves once the datacenter firewall is on (switched on here if allowed); concurrent callers share one check. */
export const ensureDatacenterFirewall = sharedFor(RECHECK_MS, async (ctx) => {
  const options = await pveshGet<{ enable?: number | string }>(ctx, '/cluster/firewall/options');
  if (Number(options.enable ?? 0) === 1) return;
  if (!ctx.env.FIREWALL_AUTO_ENABLE) {
    throw new PermanentError(
      'the datacenter firewall is off, so no lab can be contained: enable it (Datacenter → Firewall → Options) or set FIREWALL_AUTO_ENABLE=1',
    );
  }
  await onNode(ctx, ['pvesh', 'set', '/cluster/firewall/options', '--enable', '1']);
  ctx.logger.warn('the datacenter firewall was off; switched it on so lab firewalls apply');
});
