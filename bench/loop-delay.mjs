/**
 * Loaded with `NODE_OPTIONS=--import <this file>` and BENCH_LOOP_DELAY=<dir>: every 50 ms the process
 * appends to <dir>/<pid>.loop one line `<ms since the epoch> <longest>`, the event loop's longest
 * delay over that window in ms (perf_hooks' monitorEventLoopDelay at 5 ms resolution): how late the
 * process's timers and I/O callbacks ran, which any wait handed to it (a job to take, a reply to
 * read) also paid. The lab bench's BENCH_LAB_LOOP reads the lines of one deploy's window back.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dir = process.env.BENCH_LOOP_DELAY;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.loop`);
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  // One small append per window (20 a second), so a reader finds every window that has ended.
  const sample = setInterval(() => {
    // The histogram counts in ns.
    appendFileSync(file, `${Date.now()} ${(histogram.max / 1e6).toFixed(1)}\n`);
    histogram.reset();
  }, 50);
  sample.unref();
}
