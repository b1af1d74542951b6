/**
 * Two uses.
 *
 * Loaded with `NODE_OPTIONS=--import <this file>` (node refuses `--cpu-prof` there): records a V8 CPU
 * profile of the whole process and writes it to $BENCH_CPU_PROF/<pid>.cpuprofile when it exits.
 *
 * Run as `node bench/cpu-profile.mjs <dir-or-files…> [--vms N] [--top N] [--after text] [--match text]
 * [--callers text] [--window file:label] [--for ms]`: sums the
 * profiles' samples by package (a `node_modules` package, a workspace package or app by its source
 * file — bundles are mapped back through their source maps —, a Node module, or GC / native code) and
 * by function, self time and, for workspace functions, inclusive time; with `--vms`, per VM. Idle
 * samples are left out.
 *
 * What the figures mean: each sample counts for the time until the next one, but at most one sampling
 * interval (1 ms). V8 takes a sample when the thread runs; a thread that waited for a core (a loaded
 * machine) shows a long gap before its next sample, and uncapped that wait would be charged to
 * whatever code ran when it woke. So a figure is about the thread's CPU time on that code, give or
 * take sampling noise (a sample stands for up to 1 ms: a function seen in few samples is a rough
 * figure), and the busy total is close to the CPU the process used for JavaScript, GC and native work
 * on its main thread (not its other threads): for the two installers of the lab bench (fresh and warm
 * deploy, load ~3 on 2 cores) 24.8–26.2 ms per VM against 24.5–27.4 of main-thread CPU from /proc,
 * where the uncapped sum said 39–44.
 * `--after runJob` skips the samples before the first one with that function on its stack (start-up),
 * `--window windows.jsonl:warm` keeps only the samples of the deploy whose label has that text, as the
 * lab bench's BENCH_LAB_WINDOWS file marks it (both count in the monotonic clock), `--for 150` only
 * the first 150 ms of it (with `--after`: of what follows that first sample; say, a deploy's head),
 * `--match` adds matching functions to the inclusive table, `--callers writev` lists which code
 * outside Node led to the samples of a function.
 */

import { subscribe } from 'node:diagnostics_channel';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { SourceMap } from 'node:module';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = process.env.BENCH_CPU_PROF;
const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
/** The sampling interval, µs: also the most a sample counts for (see the header). */
const INTERVAL_US = 1000;

if (dir && !isMain) {
  // Made now, so that the writes on exit (where an error goes unseen) find it.
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: INTERVAL_US });
  session.post('Profiler.start');
  // What the process sent: HTTP requests by method and path (numbers as {n}), new TCP connections by
  // port, TLS handshakes and how many of them resumed a session, and the writes its client sockets
  // handed to the system by port (a corked batch is one).
  const calls = { http: {}, connections: {}, writes: {}, tls: { handshakes: 0, resumed: 0 } };
  const add = (table, key) => {
    table[key] = (table[key] ?? 0) + 1;
  };
  const request = ({ method, path }) => {
    const shape = path
      .split('?')[0]
      .replace(/\/\d+(?=\/|$)/g, '/{n}')
      .replace(/\/pve[\w-]*(?=\/|$)/, '/{node}')
      .replace(/\/UPID[^/]*/, '/{upid}');
    add(calls.http, `${method} ${shape}`);
  };
  subscribe('http.client.request.start', ({ request: sent }) => request(sent));
  // The Proxmox client speaks HTTP on its own connections (packages/proxmox/src/http1.ts): it
  // announces each request here instead.
  subscribe('glassdome:proxmox:request', request);
  // Every client socket goes through Socket#connect (net.connect, tls.connect, ssh2, pg, ioredis).
  const connect = Socket.prototype.connect;
  const clients = new WeakSet();
  Socket.prototype.connect = function (...args) {
    clients.add(this);
    this.once('connect', () => add(calls.connections, String(this.remotePort)));
    this.once('secureConnect', () => {
      calls.tls.handshakes++;
      if (this.isSessionReused()) calls.tls.resumed++;
    });
    return connect.apply(this, args);
  };
  // Node's one way from a socket's stream to its handle (write and writev); one still connecting
  // keeps the data and comes back through it once connected, so only that pass counts.
  const writeGeneric = Socket.prototype._writeGeneric;
  Socket.prototype._writeGeneric = function (...args) {
    if (clients.has(this) && !this.connecting) add(calls.writes, String(this.remotePort));
    return writeGeneric.apply(this, args);
  };
  process.on('exit', () => {
    const name = `${process.argv[1]?.split('/').slice(-3).join('_')}-${process.pid}`;
    writeFileSync(join(dir, `${name}.calls.json`), JSON.stringify(calls, null, 1));
    // Same-thread inspector sessions answer synchronously, so this runs to the end inside 'exit'.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}

/** The source maps of bundles, by URL (null when the file has none). */
const sourceMaps = new Map();

function sourceMapOf(url) {
  if (sourceMaps.has(url)) return sourceMaps.get(url);
  let map = null;
  try {
    const path = fileURLToPath(url);
    if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
  } catch {
    map = null;
  }
  sourceMaps.set(url, map);
  return map;
}

/** Where a call frame's code comes from: its original source file (bundles mapped back) and line. */
function originOf(frame) {
  const { url, lineNumber, columnNumber } = frame;
  if (!url.startsWith('file://')) return { file: url, line: lineNumber + 1 };
  const map = sourceMapOf(url);
  if (map) {
    const entry = map.findEntry(lineNumber, columnNumber);
    if (entry?.originalSource) {
      // Sources are named relative to the map (`../src/client.ts`): resolve them against it.
      const source = new URL(entry.originalSource, url);
      const file = source.protocol === 'file:' ? fileURLToPath(source) : entry.originalSource;
      return { file, line: (entry.originalLine ?? 0) + 1 };
    }
  }
  return { file: url, line: lineNumber + 1 };
}

/** The package a source file belongs to. */
function packageOf(file, functionName) {
  if (!file) return functionName.startsWith('(') ? functionName : '(native)';
  // This file's own hooks (the write count) pass on what Node was doing: a caller is looked for past them.
  if (file.endsWith('/bench/cpu-profile.mjs')) return '(profiler)';
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = file.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const workspace = /\/(apps|packages)\/([^/]+)\//.exec(file);
  if (workspace) return `${workspace[1]}/${workspace[2]}`;
  if (file.startsWith('node:')) {
    const name = file.slice('node:'.length).replace(/^internal\//, '');
    return `node:${name
      .split('/')
      .slice(0, name.startsWith('deps/') ? 2 : 1)
      .join('/')}`;
  }
  return file;
}

/** `file:label`: the monotonic span (µs) of the first deploy in the lab bench's BENCH_LAB_WINDOWS file whose label has `label`. */
function deployWindow(spec) {
  if (!spec) return undefined;
  const at = spec.lastIndexOf(':');
  const [file, text] = at < 0 ? [spec, ''] : [spec.slice(0, at), spec.slice(at + 1)];
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  const found = lines.find((line) => line.label.includes(text));
  if (!found) throw new Error(`no deploy labelled "${text}" in ${file} (${lines.map((l) => l.label).join('; ')})`);
  return { from: found.began.monotonicUs, to: found.ended.monotonicUs };
}

function summarize(files, { vms, top, match, after, callers, window, forMs }) {
  const byPackage = new Map();
  const byCaller = new Map();
  const byResponsible = new Map();
  const byFunction = new Map();
  const inclusive = new Map();
  let busy = 0;
  const perFile = [];
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    const parent = new Map();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const label = new Map();
    for (const node of profile.nodes) {
      const { functionName } = node.callFrame;
      const origin = originOf(node.callFrame);
      const name = functionName || '(anonymous)';
      const pkg = packageOf(origin.file, name);
      const where = origin.file
        ? `${origin.file.replace(/^.*\/(apps|packages|node_modules)\//, '$1/')}:${origin.line}`
        : '';
      label.set(node.id, { pkg, fn: `${name} ${where}`.trim(), workspace: /^(apps|packages)\//.test(pkg) });
    }
    // Sample i lasted timeDeltas[i + 1] (the delta recorded before the next sample), up to one
    // interval: the rest of a longer gap the thread spent waiting, not running that code.
    const { samples, timeDeltas } = profile;
    let fileBusy = 0;
    const stackHas = (id, text) => {
      for (let at = id; at !== undefined; at = parent.get(at)) if (label.get(at)?.fn.includes(text)) return true;
      return false;
    };
    let started = !after;
    // Each sample's time by the monotonic clock (µs), and when counting began (for `--for`).
    let at = profile.startTime;
    let from = after ? undefined : (window?.from ?? profile.startTime);
    for (let i = 0; i < samples.length; i++) {
      const ms = Math.min(timeDeltas[i + 1] ?? 0, INTERVAL_US) / 1000;
      at += timeDeltas[i] ?? 0;
      if (window && (at < window.from || at > window.to)) continue;
      if (forMs && from !== undefined && at > from + forMs * 1000) break;
      const id = samples[i];
      const own = label.get(id);
      if (!own || own.pkg === '(idle)' || own.pkg === '(root)') continue;
      // Start-up (module loading) is outside what the bench measures: skip to the first job.
      if (!started) {
        started = stackHas(id, after);
        if (started) from = at;
      }
      if (!started) continue;
      {
        // The package responsible for the sample: the nearest frame outside Node, else the outermost
        // Node frame (an event the loop delivered: a socket's data, a timer).
        let at = id;
        let outermost = own.pkg;
        while (at !== undefined && /^(node:|\()/.test(label.get(at)?.pkg ?? '')) {
          if (label.get(at)?.pkg.startsWith('node:')) outermost = label.get(at).pkg;
          at = parent.get(at);
        }
        const responsible = at === undefined ? `${outermost} (from the event loop)` : label.get(at).pkg;
        byResponsible.set(responsible, (byResponsible.get(responsible) ?? 0) + ms);
      }
      if (callers && own.fn.includes(callers)) {
        // The nearest frame outside Node itself that led here.
        let at = parent.get(id);
        while (at !== undefined && /^(node:|\()/.test(label.get(at)?.pkg ?? '')) at = parent.get(at);
        const caller = at === undefined ? '(none)' : `${label.get(at).pkg}  ${label.get(at).fn}`;
        byCaller.set(caller, (byCaller.get(caller) ?? 0) + ms);
      }
      busy += ms;
      fileBusy += ms;
      byPackage.set(own.pkg, (byPackage.get(own.pkg) ?? 0) + ms);
      const key = `${own.pkg}  ${own.fn}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
      // Inclusive time: each workspace function (and matching one) on the stack, once per sample.
      const seen = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) {
        const frame = label.get(at);
        if (!frame) continue;
        const counted = frame.workspace || (match && frame.fn.includes(match));
        if (!counted || seen.has(frame.fn)) continue;
        seen.add(frame.fn);
        inclusive.set(`${frame.pkg}  ${frame.fn}`, (inclusive.get(`${frame.pkg}  ${frame.fn}`) ?? 0) + ms);
      }
    }
    perFile.push([file.split('/').pop(), fileBusy]);
  }
  const per = vms ? vms : 1;
  const unit = vms ? 'ms/VM' : 'ms';
  const table = (title, map, limit) => {
    const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, limit);
    return [
      `${title} (${unit}, share of busy time)`,
      ...rows.map(
        ([name, ms]) =>
          `  ${(ms / per).toFixed(2).padStart(9)}  ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${name}`,
      ),
    ].join('\n');
  };
  return [
    `busy (non-idle) time: ${(busy / per).toFixed(1)} ${unit} over ${files.length} profile(s)`,
    ...perFile.map(([name, ms]) => `  ${(ms / per).toFixed(1).padStart(9)}  ${name}`),
    '',
    table('self time by package', byPackage, top),
    '',
    table('by responsible package (Node and native frames count for the code that called them)', byResponsible, top),
    '',
    table('self time by function', byFunction, top),
    '',
    table('inclusive time of workspace functions', inclusive, top),
    ...(callers ? ['', table(`nearest non-Node callers of ${callers}`, byCaller, top)] : []),
  ].join('\n');
}

if (isMain) {
  // Piped into head: stop quietly when it stops reading.
  process.stdout.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    if (at < 0) return fallback;
    const [, value] = args.splice(at, 2);
    return value;
  };
  const vms = Number(option('--vms', '0')) || 0;
  const top = Number(option('--top', '40')) || 40;
  const match = option('--match', '');
  const after = option('--after', '');
  const callers = option('--callers', '');
  const forMs = Number(option('--for', '0')) || 0;
  const window = deployWindow(option('--window', ''));
  const files = args.flatMap((arg) =>
    statSync(arg).isDirectory()
      ? readdirSync(arg)
          .filter((name) => name.endsWith('.cpuprofile'))
          .map((name) => join(arg, name))
      : arg.endsWith('.cpuprofile')
        ? [arg]
        : [],
  );
  process.stdout.write(`${summarize(files, { vms, top, match, after, callers, window, forMs })}\n`);
  // The calls the same processes made, when recorded.
  const total = { http: {}, connections: {}, writes: {}, tls: { handshakes: 0, resumed: 0 } };
  for (const file of files) {
    const path = file.replace(/\.cpuprofile$/, '.calls.json');
    if (!existsSync(path)) continue;
    const calls = JSON.parse(readFileSync(path, 'utf8'));
    for (const table of ['http', 'connections', 'writes'])
      for (const [raw, count] of Object.entries(calls[table] ?? {})) {
        const key = raw.replace(/\/UPID[^/]*/, '/{upid}');
        total[table][key] = (total[table][key] ?? 0) + count;
      }
    total.tls.handshakes += calls.tls.handshakes;
    total.tls.resumed += calls.tls.resumed;
  }
  const per = vms || 1;
  const list = (table) =>
    Object.entries(table)
      .sort((a, b) => b[1] - a[1])
      .map(([key, count]) => `  ${(count / per).toFixed(2).padStart(9)}  ${key}`);
  const sum = (table) => Object.values(table).reduce((a, b) => a + b, 0) / per;
  if (Object.keys(total.http).length > 0 || Object.keys(total.connections).length > 0)
    process.stdout.write(
      [
        '',
        `HTTP requests${vms ? ' per VM' : ''}: ${sum(total.http).toFixed(2)}`,
        ...list(total.http),
        '',
        `new TCP connections${vms ? ' per VM' : ''} by port: ${sum(total.connections).toFixed(2)}`,
        ...list(total.connections),
        `TLS handshakes: ${total.tls.handshakes}, sessions resumed: ${total.tls.resumed}`,
        '',
        `socket writes of client sockets${vms ? ' per VM' : ''} by port: ${sum(total.writes).toFixed(2)}`,
        ...list(total.writes).slice(0, 12),
        '',
      ].join('\n'),
    );
}
