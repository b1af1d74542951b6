// One batch of test files for run.mjs: node's test runner through its run() API, because `node --test`
// sorts the files it is given by name, and run() starts them in the order given (the longest first).
// Started with `--import tsx`, which run() passes on to each file's process.
//   node --import tsx infra/test/batch.mjs '{"files":[…],"concurrency":2,"timeoutMs":300000}'
import { PassThrough } from 'node:stream';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';

const { files, concurrency, timeoutMs } = JSON.parse(process.argv[2]);
const events = run({ files, concurrency, timeout: timeoutMs, forceExit: true });
// As `node --test` does: a failed test (not a todo) fails the run.
events.on('test:fail', (data) => {
  if (!data.todo) process.exitCode = 1;
});

// The usual reporter (spec on a terminal, tap otherwise) and, with TEST_DURATIONS, durations.mjs,
// each fed every event.
const reporters = [process.stdout.isTTY ? new spec() : tap];
if (process.env.TEST_DURATIONS) reporters.push((await import('./durations.mjs')).default);
const feeds = reporters.map((reporter) => {
  const feed = new PassThrough({ objectMode: true });
  const output = feed.compose(reporter);
  output.pipe(process.stdout, { end: false });
  return feed;
});
events.on('data', (event) => {
  for (const feed of feeds) feed.write(event);
});
events.on('end', () => {
  for (const feed of feeds) feed.end();
});
