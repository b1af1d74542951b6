import { sql } from 'kysely';
import type { Db } from '../connection';

/** The host key fingerprint pinned for a VM (`SHA256:…`), if any. */
export async function findVmHostKey(db: Db, vmId: string): Promise<string | undefined> {
  return (await findVmHostKeys(db, [vmId])).get(vmId);
}

/** The host key fingerprints pinned for these VMs, by VM id (VMs without a pin are left out). */
export async function findVmHostKeys(db: Db, vmIds: readonly string[]): Promise<Map<string, string>> {
  if (vmIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('vm_host_keys')
    .select(['vm_id', 'fingerprint'])
    .where('vm_id', 'in', [...vmIds])
    .execute();
  return new Map(rows.map((row) => [row.vm_id, row.fingerprint]));
}

/** Pins `fingerprint` for the VM, replacing an earlier pin (a guest re-created from a new disk). */
export async function pinVmHostKey(db: Db, pin: { vmId: string; fingerprint: string; keyType: string }): Promise<void> {
  await db
    .insertInto('vm_host_keys')
    .values({ vm_id: pin.vmId, fingerprint: pin.fingerprint, key_type: pin.keyType })
    .onConflict((conflict) =>
      conflict
        .column('vm_id')
        .doUpdateSet({ fingerprint: pin.fingerprint, key_type: pin.keyType, pinned_at: new Date() }),
    )
    .execute();
}

export async function deleteVmHostKey(db: Db, vmId: string): Promise<void> {
  await db.deleteFrom('vm_host_keys').where('vm_id', '=', vmId).execute();
}

/**
 * Records the management address the VM's guest agent reported and drops the VM's pin, in one
 * statement: the address is that of a new boot, whose disk (and so host key) may be new, and the key
 * is read again through the agent before the first SSH. A reader never sees the new address with the
 * old pin.
 */
export async function setVmIpForgettingHostKey(db: Db, vmId: string, ip: string): Promise<void> {
  await db
    .with('forgotten', (qb) => qb.deleteFrom('vm_host_keys').where('vm_id', '=', vmId))
    .updateTable('vms')
    .set({ ip, updated_at: sql`now()` })
    .where('id', '=', vmId)
    .execute();
}
