// A node:test reporter that appends each test file's wall time (from its process starting to its
// end) to the file named by TEST_DURATIONS, one tab-separated line a file:
//   <ms>\t<top-level tests passed>\t<top-level tests failed>\t<file>
// run.mjs adds it beside the usual reporter when TEST_DURATIONS is set; it writes nothing itself.
// The lines are written when the run ends: with files running side by side, a file's own tests are
// reported after it completed (in the order the files started), so only then are its counts whole.
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Transform } from 'node:stream';

const root = new URL('../..', import.meta.url).pathname;
const started = new Map();
const wallMs = new Map();
const counts = new Map();

export default new Transform({
  writableObjectMode: true,
  transform(event, _encoding, done) {
    const { data } = event;
    const file = data?.file;
    if (file && event.type === 'test:dequeue' && data.name === file) started.set(file, Date.now());
    if (file && (event.type === 'test:pass' || event.type === 'test:fail') && data.nesting === 0) {
      const count = counts.get(file) ?? { pass: 0, fail: 0 };
      count[event.type === 'test:pass' ? 'pass' : 'fail'] += 1;
      counts.set(file, count);
    }
    if (file && event.type === 'test:complete' && data.name === file) {
      wallMs.set(file, Date.now() - (started.get(file) ?? Date.now()));
    }
    done();
  },
  flush(done) {
    const lines = [...wallMs].map(([file, ms]) => {
      const count = counts.get(file) ?? { pass: 0, fail: 0 };
      return `${ms}\t${count.pass}\t${count.fail}\t${relative(root, file)}\n`;
    });
    if (lines.length > 0) appendFileSync(process.env.TEST_DURATIONS, lines.join(''));
    done();
  },
});
