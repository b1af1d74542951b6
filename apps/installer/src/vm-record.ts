import { type Db, getVm } from '@glassdome/db';
import { parseStoredVmSpec } from '@glassdome/lab';

export type VmRow = NonNullable<Awaited<ReturnType<typeof loadVm>>>;

/** A VM row with its stored spec parsed (a row that holds no valid spec is an error, not a guess). */
export async function loadVm(db: Db, vmId: string) {
  const row = await getVm(db, vmId);
  if (!row) return undefined;
  return { ...row, spec: parseStoredVmSpec(row.spec) };
}
