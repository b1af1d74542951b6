/**
 * Names of lab snapshots. They are Proxmox snapshot names as well (its `pve-configid` format: a
 * letter, then letters, digits, `-` or `_`, at most 40 characters), so one name means the same on
 * every VM of a copy or a lab. A few names are Glassdome's own.
 */
import { z } from 'zod';

/** The snapshot taken when a lab first became ready; `reset` reverts to it. */
export const INITIAL_SNAPSHOT = 'initial';

/** Prefix of the snapshots testing mode takes before it widens egress. */
export const TESTING_SNAPSHOT_PREFIX = 'gd-testing-';

/** Names Proxmox itself reserves. */
const PVE_RESERVED = new Set(['current', 'pending']);

export const snapshotName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_-]{1,39}$/,
    'must be 2-40 letters, digits, - or _, starting with a letter (a Proxmox snapshot name)',
  )
  .refine((name) => !PVE_RESERVED.has(name.toLowerCase()), 'is a name Proxmox reserves')
  .describe('a snapshot name: 2-40 letters, digits, - or _, starting with a letter');

/** A name a user may give a new snapshot: not one of Glassdome's own. */
export const userSnapshotName = snapshotName
  .refine((name) => name !== INITIAL_SNAPSHOT, `is the automatic snapshot of a ready lab; reset reverts to it`)
  .refine(
    (name) => !name.startsWith(TESTING_SNAPSHOT_PREFIX),
    `names starting ${TESTING_SNAPSHOT_PREFIX} are testing mode's`,
  );

/** The snapshot testing mode takes before the change it makes (unique per start). */
export function testingSnapshotName(startedAt: Date): string {
  return `${TESTING_SNAPSHOT_PREFIX}${startedAt.getTime().toString(36)}`;
}
