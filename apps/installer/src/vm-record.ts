import type { Db } from '@glassdome/db';
import { sql } from 'kysely';
import type { VmSpec } from './vm-spec';

export type VmRow = NonNullable<Awaited<ReturnType<typeof loadVm>>>;

export async function loadVm(db: Db, vmId: string) {
  const row = await db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirst();
  if (!row) return undefined;
  return { ...row, spec: row.spec as unknown as VmSpec };
}

export async function updateVm(
  db: Db,
  vmId: string,
  changes: Partial<{ status: string; vmid: number | null; ip: string | null; error: string | null; node: string }>,
): Promise<void> {
  await db
    .updateTable('vms')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', vmId)
    .execute();
}
