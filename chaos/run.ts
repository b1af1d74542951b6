// `pnpm chaos [scenario…] [--small]`: runs the chaos scenarios one after another (each starts and
// stops its own Redis, Postgres, simulator and Glassdome processes) and, when every scenario ran,
// writes docs/reliability.md. Exits 1 when any scenario did not meet its expectations.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChaosCluster } from './cluster';
import { readOpenNotes, reliabilityPage } from './report';
import { runScenario, type ScenarioResult, type Size } from './scenario';
import { SCENARIOS } from './scenarios';

const here = new URL('.', import.meta.url).pathname;
const args = process.argv.slice(2);
const size: Size = args.includes('--small') ? 'small' : 'full';
const wanted = args.filter((arg) => !arg.startsWith('--'));
const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}
const chosen = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.includes(s.name));

// An interrupted run still stops what it started (Postgres runs detached from our process group).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping the running cluster\n`);
    void Promise.all([...ChaosCluster.running].map((cluster) => cluster.stop())).finally(() => process.exit(130));
  });
}

const results: ScenarioResult[] = [];
for (const scenario of chosen) {
  process.stderr.write(`chaos: ${scenario.name} — ${scenario.title}\n`);
  // A cluster that did not start (a process exiting at start-up) is tried once more before it counts.
  const attempt = () => runScenario(scenario, size).catch((error: unknown) => failedToRun(scenario, error));
  let result = await attempt();
  if (result.problems[0]?.startsWith('could not run')) {
    process.stderr.write(`chaos: ${scenario.name}: ${result.problems[0]}; trying once more\n`);
    result = await attempt();
  }
  results.push(result);
  const verdict = result.problems.length === 0 ? 'pass' : `FAIL: ${result.problems.join('; ')}`;
  process.stderr.write(
    `chaos: ${scenario.name}: ${result.counts.ready} ready, ${result.counts.destroyed} destroyed, ` +
      `${result.counts.failedWithReason} failed, ${result.duplicates} duplicates, ${result.leakedLeases} leaked leases, ` +
      `${result.leakedVms} VMs left, ${result.counts.stale} stale, settled in ${result.settleSeconds} s — ${verdict}\n`,
  );
}

function failedToRun(scenario: (typeof SCENARIOS)[number], error: unknown): ScenarioResult {
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  return {
    name: scenario.name,
    title: scenario.title,
    requested: { vms: 0, labs: 0, rows: 0 },
    counts: {
      rows: 0,
      ready: 0,
      destroyed: 0,
      failedWithReason: 0,
      failedWithoutReason: 0,
      stale: 0,
      reasons: [],
      staleRows: [],
    },
    duplicates: 0,
    leakedLeases: 0,
    leakedVms: 0,
    settleSeconds: 0,
    totalSeconds: 0,
    notes: [],
    problems: [`could not run: ${message}`],
  };
}

const page = reliabilityPage(results, readOpenNotes(join(here, 'open.md')));
if (wanted.length === 0 && size === 'full') writeFileSync(join(here, '../docs/reliability.md'), page);
process.stdout.write(page);
process.exit(results.every((r) => r.problems.length === 0) ? 0 : 1);
