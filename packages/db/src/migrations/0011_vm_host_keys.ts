import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * The SSH host key pinned for each VM: read from the guest's own disk through its QEMU guest agent
 * before Glassdome first connects, and the only key its SSH connections accept afterwards. Keyed by
 * the VM, not by its address, so an address another guest claims never inherits a pin.
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE TABLE vm_host_keys (
      vm_id uuid PRIMARY KEY REFERENCES vms (id) ON DELETE CASCADE,
      fingerprint text NOT NULL,
      key_type text NOT NULL,
      pinned_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP TABLE vm_host_keys`.execute(db);
}
