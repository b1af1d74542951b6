/**
 * Testing mode: for a while, a lab's networks reach more of the outside than its spec allows (to
 * install tooling, say). The firewall is compiled from the spec with the networks' egress replaced,
 * and compiled from the spec alone again when testing mode ends.
 */
import { z } from 'zod';
import { DURATION_PATTERN } from '../spec/duration';
import { egressPolicy } from '../spec/lab-schema';
import { resourceName } from '../spec/names';
import type { EgressPolicy, LabSpec } from '../spec/resolve';

/** Longest testing mode in one go. */
export const MAX_TESTING_SECONDS = 24 * 3600;

export const testingModeRequest = z.strictObject({
  egress: egressPolicy.describe('what the networks may reach meanwhile: allow, or a list of destinations'),
  duration: z
    .string()
    .regex(DURATION_PATTERN, 'must be minutes, hours or days, e.g. "30m", "2h"')
    .default('1h')
    .describe('how long until the lab’s own policy is restored (at most 24h)'),
  networks: z
    .array(resourceName)
    .min(1)
    .max(32)
    .optional()
    .describe('the networks it applies to (default: every network of the lab)'),
});

export type TestingModeRequest = z.output<typeof testingModeRequest>;

/** The lab's spec with `egress` on `networks` (all when not given); unknown network names are an error. */
export function withEgressOverride(spec: LabSpec, egress: EgressPolicy, networks?: readonly string[]): LabSpec {
  const known = new Set(spec.networks.map((network) => network.name));
  const unknown = (networks ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`not networks of this lab: ${unknown.join(', ')}`);
  const chosen = new Set(networks ?? known);
  return {
    ...spec,
    networks: spec.networks.map((network) =>
      chosen.has(network.name)
        ? { ...network, egress: Array.isArray(egress) ? [...new Set(egress)] : egress }
        : network,
    ),
  };
}
