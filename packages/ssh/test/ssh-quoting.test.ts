import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { SshPool, SshTarget } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, type TestSshd } from './support';

let sshd: TestSshd;
let pool: SshPool;
let target: SshTarget;
/** A file that any successful injection below would delete. */
let canaryDir: string;
let canary: string;

before(async () => {
  sshd = await startSshd();
  target = pinnedTarget(sshd);
  pool = capturedPool().pool;
  canaryDir = mkdtempSync(join(tmpdir(), 'gd-ssh-canary-'));
  canary = join(canaryDir, 'canary');
  writeFileSync(canary, 'alive');
});

after(async () => {
  pool.close();
  await sshd.stop();
  rmSync(canaryDir, { recursive: true, force: true });
});

/** Runs the remote printf and splits its NUL-terminated output back into the arguments it received. */
async function echoArguments(args: string[]): Promise<string[]> {
  const result = await pool.exec(target, ['printf', '%s\\0', ...args]);
  return result.stdout.split('\0').slice(0, -1);
}

test('`; rm -rf` and other shell syntax arrive as single literal arguments', async () => {
  const hostile = [
    `; rm -rf ${canary}`,
    `$(rm -rf ${canary})`,
    `\`rm -rf ${canary}\``,
    `' ; rm -rf ${canary} ; '`,
    `" ; rm -rf ${canary} ; "`,
    `&& rm -rf ${canary}`,
    `| rm -rf ${canary}`,
    `\nrm -rf ${canary}\n`,
    '*',
    '~',
    '$HOME',
    '',
    'a b\tc',
  ];
  assert.deepEqual(await echoArguments(hostile), hostile);
  assert.ok(existsSync(canary), 'the canary file must survive');
});

test('a remote printf echoes each argument on its own line, literally', async () => {
  const args = ['first', 'it\'s "quoted"', '; rm -rf /'];
  const result = await pool.exec(target, ['printf', '%s\\n', ...args]);
  assert.equal(result.stdout, 'first\nit\'s "quoted"\n; rm -rf /\n');
});

test('any string without NUL survives the round trip (property)', async () => {
  const argument = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
  await fc.assert(
    fc.asyncProperty(fc.array(argument, { minLength: 1, maxLength: 16 }), async (args) => {
      assert.deepEqual(await echoArguments(args), args);
    }),
    { numRuns: 20 },
  );
  assert.ok(existsSync(canary));
});
