import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../errors';
import type { SetupAnswers } from './answers';
import { bootstrapLogin, envVarsOf, initialAnswers, missingAnswers } from './resolve';

test('each answer: flag, then environment, then env file, then old config file, then default', () => {
  const answers = initialAnswers(
    { node: 'from-flag' },
    { PROXMOX_NODE: 'from-env', PROXMOX_STORAGE: 'env-storage' },
    { proxmox: { url: 'https://old:8006', node: 'old', tokenId: 'a@pve!b', tokenSecret: 's' } },
    { PROXMOX_STORAGE: 'file-storage', PROXMOX_BRIDGE: 'vmbr9', PROXMOX_URL: 'https://file:8006' },
  );
  assert.equal(answers.node, 'from-flag');
  assert.equal(answers.storage, 'env-storage');
  assert.equal(answers.bridge, 'vmbr9');
  assert.equal(answers.proxmoxUrl, 'https://file:8006');
  assert.equal(answers.tokenSecret, 's');
  assert.equal(answers.queuePrefix, '{glassdome}');
});

test('--bootstrap-ssh names the SSH login; bootstrapping needs no token secret', () => {
  assert.deepEqual(bootstrapLogin('root@pve.example:2222'), { sshUser: 'root', sshHost: 'pve.example:2222' });
  assert.throws(() => bootstrapLogin('pve.example'), UsageError);
  const partial = initialAnswers({ sshKeyFile: '/k' }, {}, {});
  Object.assign(partial, bootstrapLogin('root@pve'));
  assert.deepEqual(missingAnswers(partial, { bootstrap: true }), []);
  assert.deepEqual(missingAnswers(partial), ['--token-secret (or PROXMOX_TOKEN_SECRET)']);
});

test('the env file holds the services’ variables, the key file as an absolute path, and not the CLI’s API key', () => {
  const answers = {
    ...initialAnswers({}, {}, {}),
    apiKey: 'cli-key',
    tokenSecret: 'secret',
    sshHost: 'pve:22',
    sshKeyFile: 'keys/id',
    sshHostKey: 'SHA256:x',
  } as SetupAnswers;
  const vars = envVarsOf(answers);
  assert.equal(vars.PROXMOX_TOKEN_SECRET, 'secret');
  assert.equal(vars.PROXMOX_SSH_KEY_FILE, `${process.cwd()}/keys/id`);
  assert.equal(vars.PROXMOX_STORAGE, 'local-lvm');
  assert.equal(vars.GLASSDOME_API_KEY, undefined);
  assert.equal(vars.GLASSDOME_URL, undefined);
});
