/** docs/reliability.md, written from a chaos run's results. */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { ScenarioResult } from './scenario';

function apiCell(result: ScenarioResult): string {
  if (!result.api) return '—';
  const statuses = Object.entries(result.api.byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${count}× ${status === '0' ? 'no answer' : status}`)
    .join(', ');
  return `${statuses}; slowest ${result.api.maxMs} ms`;
}

function row(result: ScenarioResult): string {
  const { counts } = result;
  const requested = `${result.requested.vms} VMs, ${result.requested.labs} labs (${result.requested.rows} rows)`;
  const failed = `${counts.failedWithReason}${counts.failedWithoutReason ? ` (+${counts.failedWithoutReason} without reason)` : ''}`;
  const verdict = result.problems.length === 0 ? 'pass' : '**FAIL**';
  return `| \`${result.name}\` | ${requested} | ${counts.ready} | ${counts.destroyed} | ${failed} | ${result.duplicates} | ${result.leakedLeases} | ${result.leakedVms} | ${counts.stale} | ${result.settleSeconds} s | ${apiCell(result)} | ${verdict} |`;
}

export function reliabilityPage(results: ScenarioResult[], openNotes: string): string {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
  const failing = results.filter((r) => r.problems.length > 0);
  return [
    '# Reliability',
    '',
    `Measured by \`pnpm chaos\` on ${new Date().toISOString().slice(0, 10)} — ${machine}.`,
    '',
    'Each scenario runs against real processes with a Redis, a Postgres cluster, a simulator and',
    'Glassdome processes of its own (free loopback ports, its own queue prefix and database), so it can',
    'kill, stop, restart or wipe any of them. After the fault, every row it requested must settle;',
    'then duplicates (more than one Proxmox VM for one VM row) and orphaned leases are counted, every',
    'lab and VM is deleted through the API, and whatever is left in the cluster or in the lease tables',
    'is a leak. Simulator time scale 0.01; worker locks 5 s; re-drive sweep every 3 s with a 20 s grace.',
    '',
    'Columns: **ready** / **destroyed** / **failed** (with a reason) count rows (standalone VMs, labs and',
    "labs' VMs); **dup** Proxmox VMs beyond one per VM row; **leases** orphaned before the tear-down plus",
    'any left after it; **VMs left** Proxmox VMs left after the tear-down; **stale** rows still queued,',
    'deploying or destroying when the settle bound ran out; **settle** seconds from the end of the',
    'fault to every row settled; **API** what the API answered while a backing service was away.',
    '',
    '| scenario | requested | ready | destroyed | failed | dup | leases | VMs left | stale | settle | API during the outage | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(row),
    '',
    '## Scenarios',
    '',
    ...results.flatMap((r) => [
      `- \`${r.name}\`: ${r.title}. ${r.totalSeconds} s in all.${r.notes.length ? ` ${r.notes.join('; ')}.` : ''}`,
      ...(r.counts.reasons.length ? [`  Failed with: ${r.counts.reasons.slice(0, 5).join('; ')}`] : []),
    ]),
    '',
    '## Open',
    '',
    ...(failing.length === 0
      ? ['Every scenario of this run passed.']
      : failing.map((r) => `- \`${r.name}\`: ${r.problems.join('; ')}`)),
    '',
    openNotes.trim(),
    '',
  ].join('\n');
}

/** Hand-kept notes on defects the suite found in code owned elsewhere (chaos/open.md). */
export function readOpenNotes(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
