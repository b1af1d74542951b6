import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '@glassdome/testkit';
import { runCli } from './program';
import { captureIo } from './test-io';

const dir = mkdtempSync(join(tmpdir(), 'gd-cli-usage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const capture = captureIo({ GLASSDOME_API_KEY: 'test-key', ...env });
  const code = await runCli(argv, capture.io);
  return { code, stdout: capture.stdout(), stderr: capture.stderr() };
}

test('--help lists every command and the exit codes, and exits 0', async () => {
  const { code, stdout } = await run(['--help']);
  assert.equal(code, 0);
  for (const command of ['setup', 'vm', 'lab', 'templates', 'alerts', 'overseer', 'status']) {
    assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'), `${command} is listed`);
  }
  assert.match(stdout, /Exit codes: 0 ok, 1 .*2 bad usage.*3 the API cannot be reached/);
});

test("each subcommand's help names its arguments and options", async () => {
  const expectations: [string[], RegExp[]][] = [
    [
      ['vm', 'create', '--help'],
      [/--name <name>/, /--os <os>/, /--ssh-key/, /--wait/, /--json/],
    ],
    [
      ['vm', '--help'],
      [/create/, /list/, /show/, /destroy/],
    ],
    [
      ['lab', 'deploy', '--help'],
      [/<file\|template>/, /--watch/, /--dry-run/, /--json/],
    ],
    [
      ['lab', '--help'],
      [/list/, /show/, /cancel/, /retry/, /destroy/, /watch/],
    ],
    [
      ['alerts', '--help'],
      [/--ack <id>/, /--json/],
    ],
    [['overseer', 'report', '--help'], [/--json/]],
    [
      ['status', '--help'],
      [/workers per queue/, /system\/status/, /--json/],
    ],
    [
      ['templates', 'create', '--help'],
      [/--os <os>/, /--node <node>/],
    ],
  ];
  for (const [argv, patterns] of expectations) {
    const { code, stdout } = await run(argv);
    assert.equal(code, 0, argv.join(' '));
    for (const pattern of patterns) assert.match(stdout, pattern, `${argv.join(' ')} shows ${pattern}`);
  }
});

test('usage mistakes exit 2 with a one-line message naming the problem', async () => {
  const cases: [string[], RegExp][] = [
    [['vm', 'create', '--name', 'web'], /required option '--os <os>'/],
    [['vm', 'create', '--name', 'web', '--os', 'ubuntu-22.04', '--cpus', 'many'], /--cpus.*must be a whole number/],
    [['vm', 'list', '--bogus'], /unknown option '--bogus'/],
    [['lab', 'frobnicate'], /unknown command 'frobnicate'/],
    [['vm', 'create', '--name', 'Bad Name!', '--os', 'ubuntu-22.04'], /the VM request is invalid: name: /],
    [['vm', 'create', '--name', 'web', '--os', 'amigaos'], /the VM request is invalid: os: /],
  ];
  for (const [argv, pattern] of cases) {
    const { code, stderr } = await run(argv);
    assert.equal(code, 2, `${argv.join(' ')}: ${stderr}`);
    assert.match(stderr.split('\n')[0]!, pattern);
  }
});

test('a bad lab spec file is refused locally: exit 2, one line with the file and the field', async () => {
  const file = join(dir, 'broken-lab.yaml');
  writeFileSync(file, 'name: broken\nnetworks: []\nvms:\n  - name: box\n    os: ubuntu-22.04\n    cpus: 0\n');
  // No API is listening anywhere near: the spec must be rejected before any network call.
  const { code, stderr } = await run(['lab', 'deploy', file], { GLASSDOME_URL: 'http://127.0.0.1:9' });
  assert.equal(code, 2);
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, new RegExp(`^error: ${file}: invalid lab spec: vms\\.0\\.cpus: `));
});

test('a spec that is not YAML at all names the file and the line', async () => {
  const file = join(dir, 'garbage.yaml');
  writeFileSync(file, 'name: [unclosed\n');
  const { code, stderr } = await run(['lab', 'deploy', file]);
  assert.equal(code, 2);
  assert.match(stderr, /^error: .*garbage\.yaml: invalid lab spec: is not valid YAML: .*line \d+/);
});

test('a missing spec file is a usage error, not a catalog lookup', async () => {
  const { code, stderr } = await run(['lab', 'deploy', join(dir, 'nope.yaml')]);
  assert.equal(code, 2);
  assert.match(stderr, /nope\.yaml: no such file/);
});

test('no API key anywhere: exit 2 saying where a key can come from', async () => {
  const capture = captureIo({ GLASSDOME_CONFIG: join(dir, 'absent.yaml') });
  const code = await runCli(['vm', 'list'], capture.io);
  assert.equal(code, 2);
  assert.match(
    capture.stderr(),
    /^error: no API key: pass --api-key, set GLASSDOME_API_KEY, or run `glassdome setup`\n$/,
  );
});

test('the API down: exit 3, one line naming the URL and the cause', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  for (const argv of [['vm', 'list'], ['lab', 'list', '--json'], ['overseer', 'report'], ['alerts']]) {
    const { code, stderr, stdout } = await run(argv, { GLASSDOME_URL: url });
    assert.equal(code, 3, argv.join(' '));
    assert.equal(stdout, '');
    assert.equal(
      stderr,
      `error: cannot reach the API at ${url} (ECONNREFUSED); is it running? check --api-url or GLASSDOME_URL\n`,
    );
  }
});

test('setup without a terminal and without --non-interactive says how to run it', async () => {
  const { code, stderr } = await run(['setup'], { GLASSDOME_CONFIG: join(dir, 'never-written.yaml') });
  // The test runner's stdin is not a terminal, as in CI or a pipe.
  assert.equal(code, 2);
  assert.equal(stderr, 'error: no terminal to ask on: run `glassdome setup --non-interactive`\n');
});

test('setup --non-interactive names every answer it is missing and where it can come from', async () => {
  const { code, stderr } = await run(['setup', '--non-interactive'], {
    GLASSDOME_CONFIG: join(dir, 'never-written.yaml'),
  });
  assert.equal(code, 2);
  assert.match(
    stderr,
    /^error: setup --non-interactive needs --token-secret \(or PROXMOX_TOKEN_SECRET\), --ssh-host \(or PROXMOX_SSH_HOST\), --ssh-key-file \(or PROXMOX_SSH_KEY_FILE\)\n$/,
  );
});
