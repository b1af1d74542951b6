import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * The project usage counters (migration 0010) count inserted VMs once per statement instead of once
 * per row: a deploy statement of N VMs (the API's group commit, a lab's copies) updates each
 * project's counters once, from the statement's inserted rows (a transition table), rather than N
 * times — N row versions of one hot row and N trigger calls. Updates and deletes keep the row
 * trigger (they come one VM at a time, and a transition table cannot name the columns it watches).
 */
export async function up(db: Db): Promise<void> {
  await sql`DROP TRIGGER vms_usage ON vms`.execute(db);
  await sql`CREATE TRIGGER vms_usage AFTER DELETE OR UPDATE OF status, spec, project ON vms
    FOR EACH ROW EXECUTE FUNCTION glassdome_count_vm_usage()`.execute(db);
  await sql`
    CREATE FUNCTION glassdome_count_vm_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE project_usage u SET vms = u.vms + s.vms, vcpus = u.vcpus + s.vcpus, memory_mib = u.memory_mib + s.memory_mib
      FROM (
        SELECT project, count(*) AS vms, coalesce(sum((spec->>'cpus')::int), 0) AS vcpus,
               coalesce(sum((spec->>'memoryMiB')::int), 0) AS memory_mib
        FROM inserted WHERE status <> 'destroyed' GROUP BY project
      ) s
      WHERE u.project = s.project;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER vms_usage_inserts AFTER INSERT ON vms REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION glassdome_count_vm_inserts()`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP TRIGGER vms_usage_inserts ON vms`.execute(db);
  await sql`DROP FUNCTION glassdome_count_vm_inserts()`.execute(db);
  await sql`DROP TRIGGER vms_usage ON vms`.execute(db);
  await sql`CREATE TRIGGER vms_usage AFTER INSERT OR DELETE OR UPDATE OF status, spec, project ON vms
    FOR EACH ROW EXECUTE FUNCTION glassdome_count_vm_usage()`.execute(db);
}
