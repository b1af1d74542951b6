import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * Since migration 0015 the row trigger `vms_usage` fires on DELETE and UPDATE only (inserts are
 * counted per statement by `glassdome_count_vm_inserts`), so its function's `TG_OP <> 'INSERT'`
 * test was always true. The function now says what it handles: the old row's share leaves its
 * project on every call (unless it was destroyed), the new row's share arrives on an update.
 * Behaviour is unchanged for the trigger as it stands.
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_count_vm_usage() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Fired by vms_usage: AFTER DELETE OR UPDATE (inserts: glassdome_count_vm_inserts).
      -- A status change between two live states (queued, deploying, ready, …) moves nothing: no
      -- write, no lock on the project's counters.
      IF TG_OP = 'UPDATE' AND OLD.project = NEW.project AND (OLD.status = 'destroyed') = (NEW.status = 'destroyed')
         AND OLD.spec->'cpus' IS NOT DISTINCT FROM NEW.spec->'cpus'
         AND OLD.spec->'memoryMiB' IS NOT DISTINCT FROM NEW.spec->'memoryMiB' THEN
        RETURN NULL;
      END IF;
      IF OLD.status <> 'destroyed' THEN
        UPDATE project_usage SET vms = vms - 1,
          vcpus = vcpus - coalesce((OLD.spec->>'cpus')::int, 0),
          memory_mib = memory_mib - coalesce((OLD.spec->>'memoryMiB')::int, 0)
        WHERE project = OLD.project;
      END IF;
      IF TG_OP = 'UPDATE' AND NEW.status <> 'destroyed' THEN
        UPDATE project_usage SET vms = vms + 1,
          vcpus = vcpus + coalesce((NEW.spec->>'cpus')::int, 0),
          memory_mib = memory_mib + coalesce((NEW.spec->>'memoryMiB')::int, 0)
        WHERE project = NEW.project;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
}

/** The function as migration 0010 wrote it (0015's down attaches it to inserts again). */
export async function down(db: Db): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_count_vm_usage() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- A status change between two live states (queued, deploying, ready, …) moves nothing: no
      -- write, no lock on the project's counters.
      IF TG_OP = 'UPDATE' AND OLD.project = NEW.project AND (OLD.status = 'destroyed') = (NEW.status = 'destroyed')
         AND OLD.spec->'cpus' IS NOT DISTINCT FROM NEW.spec->'cpus'
         AND OLD.spec->'memoryMiB' IS NOT DISTINCT FROM NEW.spec->'memoryMiB' THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.status <> 'destroyed' THEN
        UPDATE project_usage SET vms = vms - 1,
          vcpus = vcpus - coalesce((OLD.spec->>'cpus')::int, 0),
          memory_mib = memory_mib - coalesce((OLD.spec->>'memoryMiB')::int, 0)
        WHERE project = OLD.project;
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status <> 'destroyed' THEN
        UPDATE project_usage SET vms = vms + 1,
          vcpus = vcpus + coalesce((NEW.spec->>'cpus')::int, 0),
          memory_mib = memory_mib + coalesce((NEW.spec->>'memoryMiB')::int, 0)
        WHERE project = NEW.project;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
}
