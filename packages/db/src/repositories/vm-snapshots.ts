/**
 * Snapshots Glassdome took of lab VMs, one row per VM and snapshot name. A snapshot of a copy or a
 * whole lab is the same name on each of its VMs (`scope` says which was asked for).
 */
import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../connection';

export type VmSnapshotScope = 'vm' | 'copy' | 'lab';
export type VmSnapshotStatus = 'creating' | 'ready' | 'failed' | 'deleting';

export interface NewVmSnapshot {
  vmId: string;
  labId: string;
  copy: number;
  name: string;
  scope: VmSnapshotScope;
  withRam: boolean;
  description?: string | null;
  operationId?: string | null;
}

/**
 * Records snapshots about to be taken (`creating`). A failed earlier attempt under the same name is
 * replaced; one that exists in any other state is left alone and its VM id is returned in `taken`.
 */
export async function insertVmSnapshots(db: Db, snapshots: NewVmSnapshot[]): Promise<{ taken: string[] }> {
  if (snapshots.length === 0) return { taken: [] };
  const rows = await db
    .insertInto('vm_snapshots')
    .values(
      snapshots.map((s) => ({
        vm_id: s.vmId,
        lab_id: s.labId,
        copy: s.copy,
        name: s.name,
        scope: s.scope,
        with_ram: s.withRam,
        status: 'creating',
        description: s.description ?? null,
        operation_id: s.operationId ?? null,
      })),
    )
    .onConflict((oc) =>
      oc
        .columns(['vm_id', 'name'])
        .doUpdateSet({
          scope: sql`excluded.scope`,
          with_ram: sql`excluded.with_ram`,
          status: 'creating',
          description: sql`excluded.description`,
          error: null,
          operation_id: sql`excluded.operation_id`,
          created_at: sql`now()`,
        })
        .where('vm_snapshots.status', '=', 'failed'),
    )
    .returning('vm_id')
    .execute();
  const written = new Set(rows.map((row) => row.vm_id));
  return { taken: snapshots.filter((s) => !written.has(s.vmId)).map((s) => s.vmId) };
}

/** A lab's snapshots (optionally of one name, or of some VMs), oldest first. */
export async function listVmSnapshots(db: Db, labId: string, filter: { name?: string; vmIds?: string[] } = {}) {
  let query = db
    .selectFrom('vm_snapshots')
    .innerJoin('vms', 'vms.id', 'vm_snapshots.vm_id')
    .select([
      'vm_snapshots.id',
      'vm_snapshots.vm_id',
      'vm_snapshots.lab_id',
      'vm_snapshots.copy',
      'vm_snapshots.name',
      'vm_snapshots.scope',
      'vm_snapshots.with_ram',
      'vm_snapshots.status',
      'vm_snapshots.description',
      'vm_snapshots.error',
      'vm_snapshots.operation_id',
      'vm_snapshots.created_at',
      'vms.name as vm_name',
    ])
    .where('vm_snapshots.lab_id', '=', labId);
  if (filter.name !== undefined) query = query.where('vm_snapshots.name', '=', filter.name);
  if (filter.vmIds !== undefined) {
    if (filter.vmIds.length === 0) return [];
    query = query.where('vm_snapshots.vm_id', 'in', filter.vmIds);
  }
  return query.orderBy('vm_snapshots.created_at').orderBy('vm_snapshots.copy').orderBy('vms.name').execute();
}

export async function setVmSnapshotStatus(
  db: Db,
  where: { vmId: string; name: string },
  change: { status: VmSnapshotStatus; error?: string | null },
): Promise<void> {
  await db
    .updateTable('vm_snapshots')
    .set({ status: change.status, ...(change.error === undefined ? {} : { error: change.error }) })
    .where('vm_id', '=', where.vmId)
    .where('name', '=', where.name)
    .execute();
}

/**
 * One VM's snapshot of an operation taken, in one statement: its row `ready` (its error cleared), the
 * operation's progress moved up to `done` (never back: VMs finish in any order) and the VM's event
 * appended — what `setVmSnapshotStatus`, `setLabOperationProgress` and `appendEvent` write one after
 * the other.
 */
export async function recordVmSnapshotTaken(
  db: Db,
  taken: {
    vmId: string;
    labId: string;
    name: string;
    operationId: string;
    done: number;
    event: { kind: string; message: string };
  },
): Promise<void> {
  await db.executeQuery(
    CompiledQuery.raw(RECORD_VM_SNAPSHOT_TAKEN, [
      taken.vmId,
      taken.name,
      taken.operationId,
      taken.done,
      taken.labId,
      taken.event.kind,
      taken.event.message,
    ]),
  );
}

const RECORD_VM_SNAPSHOT_TAKEN = `
  WITH ready AS (
    UPDATE vm_snapshots SET status = 'ready', error = NULL WHERE vm_id = $1 AND name = $2
  ), progress AS (
    UPDATE lab_operations SET done = greatest(done, $4::int) WHERE id = $3
  )
  INSERT INTO events (lab_id, vm_id, kind, message) VALUES ($5, $1, $6, $7)`;

export async function deleteVmSnapshotRow(db: Db, where: { vmId: string; name: string }): Promise<void> {
  await db.deleteFrom('vm_snapshots').where('vm_id', '=', where.vmId).where('name', '=', where.name).execute();
}
