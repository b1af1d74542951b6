import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VlanAllocator, type VlanLeaseStore } from './vlan';

/** A store that another worker always beats to the tag it is about to take. */
function alwaysBeaten(): VlanLeaseStore & { acquired: number[] } {
  const taken: number[] = [];
  return {
    acquired: taken,
    findTag: async () => undefined,
    listTags: async () => [...taken],
    acquire: async (lease) => {
      taken.push(lease.tag);
      return false;
    },
    releaseLab: async () => {},
  };
}

test('a tag lost to another worker is retried on another free one, up to maxAttempts, then an error', async () => {
  const leases = alwaysBeaten();
  const vlans = new VlanAllocator({ leases, range: { min: 10, max: 99 }, maxAttempts: 3 });
  await assert.rejects(
    vlans.allocateVlan({ platformId: 'p', owner: 'o', labId: null, network: null }),
    /VLAN lease contention: no tag after 3 tries/,
  );
  assert.equal(leases.acquired.length, 3);
  assert.equal(new Set(leases.acquired).size, 3, 'a lost tag is not tried again');
  assert.ok(leases.acquired.every((tag) => tag >= 10 && tag <= 99));
});
