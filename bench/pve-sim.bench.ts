/**
 * pve-sim throughput and memory with 1,000 and 10,000 VMs: requests/s for small calls (status,
 * config, nextid) and for the full VM list, plus heap used by the state. Client and simulator share
 * one process, so the figures are a floor for what a separate client would see.
 *
 *   pnpm exec tsx bench/pve-sim.bench.ts
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  /** CPU time of the whole process (simulator and client), user + system, in ms. */
  cpuMs: number;
}

/**
 * One GET, read to the end. The simulator closes a connection after 100 requests, and an idle one
 * after 5 s, as pveproxy does; a GET that meets the closing socket (on a loaded machine, more than
 * once) is sent again on a fresh one.
 */
async function get(url: string, auth: string): Promise<number> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const res = await fetch(url, { headers: { Authorization: auth } });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function drive(makeUrl: (i: number) => string, auth: string): Promise<Measure> {
  const deadline = Date.now() + secondsPerWorkload * 1000;
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  let requests = 0;
  let errors = 0;
  let counter = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const status = await get(makeUrl(counter++), auth);
        requests++;
        if (status !== 200) errors++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { requests, errors, seconds: (Date.now() - started) / 1000, cpuMs: (cpu.user + cpu.system) / 1000 };
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

/**
 * A server that answers every request with the same bytes, framed as the simulator frames a list
 * (keep-alive 5 s, 100 requests per connection): what the in-process client costs on its own.
 */
async function staticServer(body: Buffer): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': String(body.length) });
    res.end(body);
  });
  server.keepAliveTimeout = 5000;
  server.maxRequestsPerSocket = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
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
    // The same client fetching the list's bytes from a server that does nothing else.
    const listBytes = Buffer.from(
      await (await fetch(`${api}/nodes/pve01/qemu`, { headers: { Authorization: auth } })).arrayBuffer(),
    );
    const alone = await staticServer(listBytes);
    const clientAlone = await drive(() => alone.url, auth).finally(() => alone.server.close());
    // CPU per answer (client and simulator) compares runs on a shared machine better than req/s.
    const rate = (m: Measure) =>
      `${(m.requests / m.seconds).toFixed(0)} req/s, ${(m.cpuMs / Math.max(1, m.requests)).toFixed(1)} ms CPU each (${m.errors} errors)`;
    return [
      `| ${vmCount.toLocaleString('en')} | ${rate(small)} | ${rate(list)} | ${rate(resources)} | ${rate(clientAlone)} | ${mib(after - before)} MiB | ${mib(process.memoryUsage().rss)} MiB |`,
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
    `In-process client, ${concurrency} concurrent requests, ${secondsPerWorkload} s per workload, deploy token (privsep, ACL-filtered lists), every VM running; CPU is the whole process's (client and simulator) per answer.`,
    '',
    "| VMs | status/config/nextid | full VM list (`/nodes/{n}/qemu`) | `/cluster/resources?type=vm` | the list's bytes from a static server (client alone) | heap added by the VMs | process RSS |",
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await run());
}
