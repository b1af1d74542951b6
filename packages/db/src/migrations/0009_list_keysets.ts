import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * Indexes for keyset pagination (packages/db/src/paging.ts): each list's order, alone and behind
 * each filter the API offers (the project a key is scoped to, a status or state), so a page at any
 * depth is read from an index in O(page) instead of sorting the table. A btree on (a, b) also
 * serves (a DESC, b DESC), the lists' order. The standalone VM list is kept to VMs outside labs.
 */
const INDEXES: [name: string, table: string, columns: string, where?: string][] = [
  ['vms_standalone_newest', 'vms', 'created_at, id', 'lab_id IS NULL'],
  ['vms_standalone_project_newest', 'vms', 'project, created_at, id', 'lab_id IS NULL'],
  ['vms_standalone_status_newest', 'vms', 'status, created_at, id', 'lab_id IS NULL'],
  ['vms_standalone_project_status_newest', 'vms', 'project, status, created_at, id', 'lab_id IS NULL'],
  ['labs_newest', 'labs', 'created_at, id'],
  ['labs_project_newest', 'labs', 'project, created_at, id'],
  ['labs_status_newest', 'labs', 'status, created_at, id'],
  ['labs_project_status_newest', 'labs', 'project, status, created_at, id'],
  ['alerts_last_seen', 'alerts', 'last_seen_at, id'],
  ['alerts_project_last_seen', 'alerts', 'project, last_seen_at, id'],
  ['alerts_state_last_seen', 'alerts', 'state, last_seen_at, id'],
  ['alerts_project_state_last_seen', 'alerts', 'project, state, last_seen_at, id'],
];

export async function up(db: Db): Promise<void> {
  for (const [name, table, columns, where] of INDEXES) {
    const partial = where ? sql` WHERE ${sql.raw(where)}` : sql``;
    await sql`CREATE INDEX ${sql.id(name)} ON ${sql.id(table)} (${sql.raw(columns)})${partial}`.execute(db);
  }
}

export async function down(db: Db): Promise<void> {
  for (const [name] of INDEXES) await sql`DROP INDEX ${sql.id(name)}`.execute(db);
}
