import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './program';
import { captureIo } from './test-io';
import { vmLabel } from './watch/lab-view';

const dir = mkdtempSync(join(tmpdir(), 'gd-cli-exercise-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]) {
  // Nothing listens here: a command that got as far as calling the API would exit 3.
  const capture = captureIo({ GLASSDOME_API_KEY: 'test-key', GLASSDOME_URL: 'http://127.0.0.1:9' });
  const code = await runCli(argv, capture.io);
  return { code, stdout: capture.stdout(), stderr: capture.stderr() };
}

test('lab and pool help name the exercise commands and their options', async () => {
  const expectations: [string[], RegExp[]][] = [
    [
      ['lab', '--help'],
      [/snapshot/, /reset/, /roster/, /extend/, /testing/, /operations/],
    ],
    [
      ['lab', 'snapshot', '--help'],
      [/create/, /list/, /delete/, /revert/],
    ],
    [
      ['lab', 'snapshot', 'create', '--help'],
      [/<lab>/, /<name>/, /--copy <n>/, /--vm <id>/, /--ram/, /--wait/],
    ],
    [
      ['lab', 'reset', '--help'],
      [/--copy <n>/, /--wait/],
    ],
    [
      ['lab', 'roster', '--help'],
      [/--csv/, /--json/],
    ],
    [['lab', 'extend', '--help'], [/<ttl>/]],
    [['lab', 'cancel', '--help'], [/--destroy-vms/]],
    [
      ['lab', 'deploy', '--help'],
      [/--copies <n>/, /--ttl <duration>/, /--trainee-key/, /--copy-key/, /--set/, /--saved/],
    ],
    [
      ['pool', '--help'],
      [/create/, /list/, /show/, /claim/, /resize/, /drain/, /delete/, /schedule/, /unschedule/],
    ],
    [
      ['pool', 'claim', '--help'],
      [/--name/, /--ttl/, /--trainee-key/],
    ],
    [
      ['pool', 'schedule', '--help'],
      [/--size <n>/, /--cron <pattern>/, /--at <time>/],
    ],
  ];
  for (const [argv, patterns] of expectations) {
    const { code, stdout } = await run(argv);
    assert.equal(code, 0, argv.join(' '));
    for (const pattern of patterns) assert.match(stdout, pattern, `${argv.join(' ')}: ${pattern}`);
  }
});

test('contradictory options are usage errors (exit 2) before anything is asked of the API', async () => {
  const spec = join(dir, 'lab.yaml');
  writeFileSync(
    spec,
    'name: tiny\nvms:\n  - {name: a, os: ubuntu-22.04, networks: [lan]}\nnetworks:\n  - {name: lan, cidr: 10.1.0.0/24}\n',
  );
  for (const argv of [
    ['lab', 'snapshot', 'create', 'lab-id', 'before', '--copy', '1', '--vm', 'x'],
    ['lab', 'reset', 'lab-id', '--copy', '0'],
    ['lab', 'deploy', spec, '--copies', '2'],
    ['lab', 'deploy', 'web-pentest-101', '--set', 'attacker=big'],
    ['pool', 'create', 'p', '--template', 'a', '--spec', 'b'],
    ['pool', 'schedule', 'p', '--size', '3'],
  ]) {
    const { code, stderr } = await run(argv);
    assert.equal(code, 2, `${argv.join(' ')}: ${stderr}`);
  }
});

test('a spec with more copies than the old fixed cap is checked by the API, not refused locally', async () => {
  const spec = join(dir, 'class.yaml');
  writeFileSync(
    spec,
    'name: big-class\ncopies: 60\nvms:\n  - {name: a, os: ubuntu-22.04, networks: [lan]}\nnetworks:\n  - {name: lan, cidr: 10.1.0.0/24}\n',
  );
  const { code } = await run(['lab', 'deploy', spec]);
  assert.equal(code, 3, 'it got as far as the API');
});

test('the watch labels each VM with its copy when the lab has several', () => {
  const lab = {
    copies: 2,
    vms: [
      { name: 'attacker', copy: 0 },
      { name: 'attacker', copy: 1 },
    ],
  };
  assert.deepEqual(
    lab.vms.map((vm) => vmLabel(lab, vm)),
    ['c1 attacker', 'c2 attacker'],
  );
  assert.equal(vmLabel({ copies: 1, vms: [] }, { name: 'web', copy: 0 }), 'web');
});
