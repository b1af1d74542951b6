import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseEnv } from 'node:util';
import { EnvFileError, formatEnvFile, readEnvFile, writeEnvFile } from './env-file';

const dir = mkdtempSync(join(tmpdir(), 'gd-env-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("every value node's own parser reads back exactly as written", () => {
  const vars = {
    PROXMOX_URL: 'https://pve.example:8006',
    PROXMOX_TOKEN_ID: 'glassdome@pve!deploy',
    QUEUE_PREFIX: '{glassdome}',
    DATABASE_URL: 'postgres://gd:p#ss w0rd@db:5432/glassdome',
    PROXMOX_SSH_HOST_KEY: 'SHA256:abc+/def=',
    WITH_QUOTE: "it's",
    EMPTY: '',
    SPACED: '  padded  ',
    MULTILINE: 'one\ntwo',
  };
  const text = formatEnvFile(vars, ['written by a test']);
  assert.match(text, /^# written by a test\n/);
  assert.deepEqual(parseEnv(text), vars);
});

test('names and values a file cannot hold are refused, naming the variable', () => {
  assert.throws(() => formatEnvFile({ 'NOT-A-NAME': 'x' }), EnvFileError);
  assert.throws(() => formatEnvFile({ BOTH: `'"\n` }), /BOTH: /);
});

test('the file is written owner-only, also over a looser one, and an absent file reads as empty', () => {
  const path = join(dir, 'sub', 'glassdome.env');
  assert.deepEqual(readEnvFile(path), {});
  writeEnvFile(path, { A: '1' });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  writeFileSync(path, 'A=2\n', { mode: 0o644 });
  writeEnvFile(path, { A: '3', B: 'x y' });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readEnvFile(path), { A: '3', B: 'x y' });
});
