import { type Db, getVm } from '@glassdome/db';
import { parseStoredVmSpec, type StoredVmSpec } from '@glassdome/lab';

export type VmRow = NonNullable<Awaited<ReturnType<typeof loadVm>>>;

/** A VM row with its stored spec parsed (a row that holds no valid spec is an error, not a guess). */
export async function loadVm(db: Db, vmId: string) {
  const row = await getVm(db, vmId);
  return row && vmRecordOf(row);
}

/** A VM row already read, with its stored spec parsed. */
export function vmRecordOf<Row extends { spec: unknown }>(row: Row): Omit<Row, 'spec'> & { spec: StoredVmSpec } {
  return { ...row, spec: parseStoredVmSpec(row.spec) };
}
