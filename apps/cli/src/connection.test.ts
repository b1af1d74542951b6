import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultConfigPath, readConfigFile, writeConfigFile } from './config-file';
import { DEFAULT_API_URL, resolveConnection } from './connection';
import { UsageError } from './errors';

const dir = mkdtempSync(join(tmpdir(), 'gd-cli-conn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('URL and key come from the flag first, then the environment, then the config file', () => {
  const config = { api: { url: 'http://config:1', key: 'config-key' } };
  const env = { GLASSDOME_URL: 'http://env:2', GLASSDOME_API_KEY: 'env-key' };
  assert.deepEqual(resolveConnection({ apiUrl: 'http://flag:3/', apiKey: 'flag-key' }, env, config), {
    apiUrl: 'http://flag:3',
    apiKey: 'flag-key',
  });
  assert.deepEqual(resolveConnection({}, env, config), { apiUrl: 'http://env:2', apiKey: 'env-key' });
  assert.deepEqual(resolveConnection({}, {}, config), { apiUrl: 'http://config:1', apiKey: 'config-key' });
  assert.deepEqual(resolveConnection({ apiKey: 'k' }, {}, {}), { apiUrl: DEFAULT_API_URL, apiKey: 'k' });
});

test('a URL that is not http(s) is a usage error naming it', () => {
  assert.throws(() => resolveConnection({ apiUrl: 'ftp://x', apiKey: 'k' }, {}, {}), UsageError);
  assert.throws(
    () => resolveConnection({ apiUrl: 'not a url', apiKey: 'k' }, {}, {}),
    /"not a url" is not an http\(s\) URL/,
  );
});

test('the config path honours GLASSDOME_CONFIG, then XDG_CONFIG_HOME, then ~/.config', () => {
  assert.equal(defaultConfigPath({ GLASSDOME_CONFIG: '/x/c.yaml', HOME: '/h' }), '/x/c.yaml');
  assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: '/xdg', HOME: '/h' }), '/xdg/glassdome/config.yaml');
  assert.equal(defaultConfigPath({ HOME: '/h' }), '/h/.config/glassdome/config.yaml');
});

test('the config file is written owner-only, even over a looser existing file, and reads back', () => {
  const path = join(dir, 'nested', 'config.yaml');
  writeConfigFile(path, { api: { url: 'http://127.0.0.1:8001', key: 'secret-key' } });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeFileSync(path, 'api: {}\n', { mode: 0o644 });
  writeConfigFile(path, { api: { key: 'other' } });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readConfigFile(path), { api: { key: 'other' } });
});

test('a broken config file is a usage error naming the file and the field', () => {
  const path = join(dir, 'bad.yaml');
  writeFileSync(path, 'api:\n  url: 42\nsurprise: true\n');
  assert.throws(
    () => readConfigFile(path),
    (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, new RegExp(`^${path}: .*api\\.url: .*surprise`));
      return true;
    },
  );
  assert.deepEqual(readConfigFile(join(dir, 'absent.yaml')), {});
});
