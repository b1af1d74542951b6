import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * Named networks an admin gives a project: each a leased VLAN tag made into a VNet of Glassdome's zone
 * by the gateway (as lab networks are), which the project's standalone VMs may name. Once the gateway
 * made it (`ready`), `bridge` is what a NIC names (the VNet) and `tag` the NIC's own tag (only where
 * there is no SDN); its VLAN lease's owner is `network:<id>`.
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE TABLE networks (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      platform_id text NOT NULL,
      project text NOT NULL,
      name text NOT NULL,
      cidr text,
      status text NOT NULL DEFAULT 'creating',
      bridge text,
      tag integer,
      error text,
      created_by uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT networks_status CHECK (status IN ('creating', 'ready', 'failed', 'deleting')),
      CONSTRAINT networks_name UNIQUE (project, name)
    )`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP TABLE networks`.execute(db);
}
