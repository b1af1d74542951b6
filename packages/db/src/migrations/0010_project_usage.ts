import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * What each project holds, kept by triggers instead of summed at every deploy: VMs not destroyed
 * with their vCPUs and MiB of memory (from the stored spec), and lab copies not destroyed. A quota
 * check reads one row — and locks it, so the deploys of one project are counted one after the
 * other — however many VMs the project has. Every write to vms or labs moves the counters by the
 * difference between the row's old and new contribution, in the same transaction, so they always
 * equal the sums they replace (`projectUsage` before this migration).
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE TABLE project_usage (
      project text PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
      vms integer NOT NULL DEFAULT 0,
      vcpus bigint NOT NULL DEFAULT 0,
      memory_mib bigint NOT NULL DEFAULT 0,
      copies integer NOT NULL DEFAULT 0
    )`.execute(db);
  await sql`INSERT INTO project_usage (project) SELECT name FROM projects`.execute(db);
  await sql`
    UPDATE project_usage u SET
      vms = s.vms, vcpus = s.vcpus, memory_mib = s.memory_mib
    FROM (
      SELECT project, count(*) AS vms, coalesce(sum((spec->>'cpus')::int), 0) AS vcpus,
             coalesce(sum((spec->>'memoryMiB')::int), 0) AS memory_mib
      FROM vms WHERE status <> 'destroyed' GROUP BY project
    ) s
    WHERE u.project = s.project`.execute(db);
  await sql`
    UPDATE project_usage u SET copies = s.copies
    FROM (SELECT project, coalesce(sum(copies), 0) AS copies FROM labs WHERE status <> 'destroyed' GROUP BY project) s
    WHERE u.project = s.project`.execute(db);

  // A new project starts with nothing.
  await sql`
    CREATE FUNCTION glassdome_project_usage_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO project_usage (project) VALUES (NEW.name) ON CONFLICT DO NOTHING;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER projects_usage_row AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION glassdome_project_usage_row()`.execute(db);

  await sql`
    CREATE FUNCTION glassdome_count_vm_usage() RETURNS trigger LANGUAGE plpgsql AS $$
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
  await sql`CREATE TRIGGER vms_usage AFTER INSERT OR DELETE OR UPDATE OF status, spec, project ON vms
    FOR EACH ROW EXECUTE FUNCTION glassdome_count_vm_usage()`.execute(db);

  await sql`
    CREATE FUNCTION glassdome_count_lab_usage() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.project = NEW.project AND (OLD.status = 'destroyed') = (NEW.status = 'destroyed')
         AND OLD.copies = NEW.copies THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.status <> 'destroyed' THEN
        UPDATE project_usage SET copies = copies - OLD.copies WHERE project = OLD.project;
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status <> 'destroyed' THEN
        UPDATE project_usage SET copies = copies + NEW.copies WHERE project = NEW.project;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER labs_usage AFTER INSERT OR DELETE OR UPDATE OF status, copies, project ON labs
    FOR EACH ROW EXECUTE FUNCTION glassdome_count_lab_usage()`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP TRIGGER labs_usage ON labs`.execute(db);
  await sql`DROP TRIGGER vms_usage ON vms`.execute(db);
  await sql`DROP TRIGGER projects_usage_row ON projects`.execute(db);
  await sql`DROP FUNCTION glassdome_count_lab_usage()`.execute(db);
  await sql`DROP FUNCTION glassdome_count_vm_usage()`.execute(db);
  await sql`DROP FUNCTION glassdome_project_usage_row()`.execute(db);
  await sql`DROP TABLE project_usage`.execute(db);
}
