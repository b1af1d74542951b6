/**
 * A 60-VM lab with a deep, uneven dependency graph deployed end to end on the simulator (fixed
 * latencies, real api + 2 installers + gateway processes). Reports the makespan divided by the
 * critical path of the graph, where each task's duration is the one measured in this run, so the
 * ratio is what the flow encoding and the workers add on top of the graph's own waits (target ≤ 1.10),
 * and the orchestration CPU (api + installers + gateway) per VM.
 *
 *   pnpm exec tsx bench/lab-makespan.bench.ts
 */
import { pathToFileURL } from 'node:url';
import { createRedisPrefix, createTestDatabase, startSimulator, startStack, waitFor } from '@glassdome/testkit';
import { createDb } from '../packages/db/src/index';
import { compileLabGraph, criticalPath, parseLabSpec } from '../packages/lab/src/index';
import { labJobId, Producer } from '../packages/queue/src/index';
import { cpuSeconds, taskDurations } from './lab-measure';

const VMS = 60;

/** Deterministic uneven DAG: each VM depends on one or two earlier ones, drawn near the end. */
function labSpec() {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const vms = Array.from({ length: VMS }, (_, i) => {
    const dependsOn = new Set<string>();
    if (i > 0 && random() < 0.8) dependsOn.add(`vm-${Math.max(0, Math.floor(i - 1 - random() * Math.min(i, 6)))}`);
    if (i > 3 && random() < 0.3) dependsOn.add(`vm-${Math.floor(random() * i)}`);
    return { name: `vm-${i}`, os: 'ubuntu-22.04', memoryMiB: 512, networks: ['lan'], dependsOn: [...dependsOn] };
  });
  return { name: 'bench-deep', networks: [{ name: 'lan', cidr: '10.50.0.0/24' }], vms };
}

export async function run(): Promise<string> {
  const sim = await startSimulator({ timeScale: 0.05 });
  const database = await createTestDatabase('bench_lab');
  const redis = createRedisPrefix('bench-lab');
  const cleanup = async () => {
    await sim.stop();
    await database.drop();
    await redis.cleanup();
  };
  const stack = await startStack({
    sim: sim.info,
    databaseUrl: database.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
    env: {
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: '64',
      OPS_PER_NODE: '64',
      // BENCH_CPU_PROF=<dir>: every process writes a V8 CPU profile there when it exits.
      ...(process.env.BENCH_CPU_PROF
        ? { NODE_OPTIONS: `--import ${new URL('./cpu-profile.mjs', import.meta.url).pathname}` }
        : {}),
    },
  }).catch(async (error) => {
    await cleanup();
    throw error;
  });
  const db = createDb(database.url);
  try {
    const processes = [stack.api, ...stack.installers, stack.gateway!];
    const cpuBefore = processes.map((p) => cpuSeconds(p.child.pid));
    const spec = labSpec();
    const started = Date.now();
    const response = await fetch(`${stack.apiUrl}/api/v1/labs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(spec),
    });
    if (response.status !== 202) throw new Error(`lab refused: ${response.status} ${await response.text()}`);
    const { id } = (await response.json()) as { id: string };
    const lab = await waitFor(
      'lab to settle',
      async () => {
        const row = await db
          .selectFrom('labs')
          .select(['status', 'updated_at'])
          .where('id', '=', id)
          .executeTakeFirst();
        return row && ['ready', 'failed', 'degraded'].includes(row.status) ? row : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 100 },
    );
    const makespanMs = lab.updated_at.getTime() - started;
    const cpu = processes.reduce((sum, p, i) => sum + cpuSeconds(p.child.pid) - cpuBefore[i]!, 0);

    // Each task's measured duration: from its first step's start to its last step's end.
    const parsed = parseLabSpec(spec);
    if (!parsed.ok) throw new Error('bench spec invalid');
    const graph = compileLabGraph(parsed.spec);
    const duration = await taskDurations(db, id, graph);
    const critical = criticalPath(graph, duration);
    const ratio = makespanMs / critical.lengthMs;
    // The same graph weighted by each task's whole job (handler bookkeeping included): what is left
    // of the makespan beyond it is the time tasks spent waiting in the queues.
    const producer = await Producer.open(redis.url, redis.prefix);
    const jobTimes = new Map<string, number>();
    for (const task of graph.tasks) {
      const queue = task.kind === 'network' ? producer.queues.network : producer.queues.lab;
      const job = await queue.getJob(labJobId(id, task.id));
      jobTimes.set(task.id, job?.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : 0);
    }
    await producer.close();
    const jobCritical = criticalPath(graph, (task) => jobTimes.get(task.id) ?? 0);
    return [
      '## Lab makespan against the critical path',
      '',
      `A ${VMS}-VM lab, deep and uneven (critical path ${critical.path.length} tasks), simulator time scale 0.05,`,
      'api + 2 installers + gateway as separate processes, WORKER_CONCURRENCY=64, OPS_PER_NODE=64.',
      '',
      '| lab status | makespan | critical path of step durations | ratio | critical path of job durations | ratio | orchestration CPU per VM |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      `| ${lab.status} | ${(makespanMs / 1000).toFixed(2)} s | ${(critical.lengthMs / 1000).toFixed(2)} s | ${ratio.toFixed(3)} | ${(jobCritical.lengthMs / 1000).toFixed(2)} s | ${(makespanMs / jobCritical.lengthMs).toFixed(3)} | ${((cpu / VMS) * 1000).toFixed(0)} ms |`,
      '',
      'Step durations are the steps of each task as recorded in Postgres (clone, boot, SSH, provisioning);',
      "job durations add each task's own bookkeeping (loading the lab, recording steps and events, adding",
      'the tasks it made ready). The first ratio is the whole orchestration overhead, the second only the',
      'time tasks waited in the queues beyond their dependencies.',
      '',
    ].join('\n');
  } finally {
    await db.destroy();
    await stack.stop();
    await cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  process.stdout.write(`${await run()}\n`);
}
