/**
 * Loaded with `NODE_OPTIONS=--import <this file>` (node refuses `--cpu-prof` there): records a V8 CPU
 * profile of the whole process and writes it to $BENCH_CPU_PROF/<pid>.cpuprofile when it exits.
 */

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // Same-thread inspector sessions answer synchronously, so this runs to the end inside 'exit'.
    session.post('Profiler.stop', (error, result) => {
      if (!error)
        writeFileSync(
          join(dir, `${process.argv[1]?.split('/').slice(-3).join('_')}-${process.pid}.cpuprofile`),
          JSON.stringify(result.profile),
        );
    });
  });
}
