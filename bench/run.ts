// `pnpm bench [name…]`: runs the benchmarks one after another (never in parallel: they share the
// machine's two cores) and writes their sections, with the machine's description, to docs/benchmarks.md.
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = new URL('.', import.meta.url).pathname;
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => wanted.length === 0 || wanted.some((name) => file.startsWith(name)))
  .sort();

const sections: string[] = [];
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`);
  const module = (await import(pathToFileURL(join(here, file)).href)) as { run: () => Promise<string> };
  sections.push(await module.run());
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
const page = [
  '# Benchmarks',
  '',
  `Measured by \`pnpm bench\` on ${new Date().toISOString().slice(0, 10)} — ${machine}.`,
  'Each figure comes from one run on a shared machine; compare ratios measured in the same run, not',
  'absolute numbers across machines.',
  '',
  ...sections,
].join('\n');
if (wanted.length === 0) writeFileSync(join(here, '../docs/benchmarks.md'), `${page}\n`);
process.stdout.write(`${page}\n`);
