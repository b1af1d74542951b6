import { sql } from 'kysely';
import type { Db } from '../connection';

/**
 * Takes the lab's row lock for the rest of the caller's transaction (a lab is placed once: the
 * second placer waits here, then finds the placement done). False when the lab is gone.
 */
export async function lockLabForPlacement(trx: Db, labId: string): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`SELECT id FROM labs WHERE id = ${labId} FOR UPDATE`.execute(trx);
  return rows.length > 0;
}

/** Puts every VM of one lab copy on `node`, but those already cloned (a VMID recorded: they are where they are). */
export async function setLabCopyNode(trx: Db, labId: string, copy: number, node: string): Promise<void> {
  await trx
    .updateTable('vms')
    .set({ node })
    .where('lab_id', '=', labId)
    .where('copy', '=', copy)
    .where('vmid', 'is', null)
    .execute();
}

/** What each copy of a lab asks for: its VMs' memory together and their stored specs' template and OS. */
export async function labCopyDemands(db: Db, labId: string) {
  return db
    .selectFrom('vms')
    .select(['copy', 'node', 'vmid', sql<unknown>`spec`.as('spec')])
    .where('lab_id', '=', labId)
    .orderBy('copy')
    .orderBy('id')
    .execute();
}
