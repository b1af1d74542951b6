/**
 * pve-sim throughput and memory with 1,000 and 10,000 VMs: requests/s for small calls (status,
 * config, nextid) and for the full VM list, plus heap used by the state. Client and simulator share
 * one process, so the figures are a floor for what a separate client would see.
 *
 *   pnpm exec tsx bench/pve-sim.bench.ts
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { addBulkVms } from '../apps/pve-sim/src/admin';
import { startSimulator } from '../apps/pve-sim/src/index';

const concurrency = 50;
const secondsPerWorkload = 3;

interface Measure {
  requests: number;
  errors: number;
  seconds: number;
}

async function drive(makeUrl: (i: number) => string, auth: string): Promise<Measure> {
  const deadline = Date.now() + secondsPerWorkload * 1000;
  const started = Date.now();
  let requests = 0;
  let errors = 0;
  let counter = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const url = makeUrl(counter++);
        // The simulator closes a connection after 100 requests, as pveproxy does; a GET that meets
        // the closing socket is sent again on a fresh one.
        const res = await fetch(url, { headers: { Authorization: auth } }).catch(() =>
          fetch(url, { headers: { Authorization: auth } }),
        );
        await res.arrayBuffer();
        requests++;
        if (res.status !== 200) errors++;
      }
    }),
  );
  return { requests, errors, seconds: (Date.now() - started) / 1000 };
}

const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

/** A full collection before reading the heap, so the figure is live data, not garbage. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function heapUsed(): Promise<number> {
  collector()();
  await new Promise((resolve) => setImmediate(resolve));
  return process.memoryUsage().heapUsed;
}

async function benchAt(vmCount: number): Promise<string[]> {
  const running = await startSimulator({ port: 0, tls: false, timeScale: 0.01, latencies: { resourcesLag: 0 } });
  try {
    const before = await heapUsed();
    addBulkVms(running.sim, { count: vmCount, start: true, prefix: 'bench' });
    const after = await heapUsed();
    const auth = `PVEAPIToken=${running.tokenId}=${running.tokenSecret}`;
    const api = `${running.apiUrl}/api2/json`;
    const ids = Object.keys(running.sim.state.vms);
    const small = await drive((i) => {
      const vmid = ids[i % ids.length];
      return [
        `${api}/nodes/pve01/qemu/${vmid}/status/current`,
        `${api}/nodes/pve01/qemu/${vmid}/config`,
        `${api}/cluster/nextid`,
      ][i % 3]!;
    }, auth);
    const list = await drive(() => `${api}/nodes/pve01/qemu`, auth);
    const resources = await drive(() => `${api}/cluster/resources?type=vm`, auth);
    const rate = (m: Measure) => `${(m.requests / m.seconds).toFixed(0)} req/s (${m.errors} errors)`;
    return [
      `| ${vmCount.toLocaleString('en')} | ${rate(small)} | ${rate(list)} | ${rate(resources)} | ${mib(after - before)} MiB | ${mib(process.memoryUsage().rss)} MiB |`,
    ];
  } finally {
    await running.stop();
  }
}

/** Runs the benchmark and returns its Markdown section. */
export async function run(): Promise<string> {
  const rows: string[] = [];
  const counts = (process.env.BENCH_SIM_VMS ?? '1000,10000').split(',').map(Number);
  for (const count of counts) rows.push(...(await benchAt(count)));
  return [
    '## pve-sim',
    '',
    `In-process client, ${concurrency} concurrent requests, ${secondsPerWorkload} s per workload, deploy token (privsep, ACL-filtered lists), every VM running.`,
    '',
    '| VMs | status/config/nextid | full VM list (`/nodes/{n}/qemu`) | `/cluster/resources?type=vm` | heap added by the VMs | process RSS |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await run());
}
