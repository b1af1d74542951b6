import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CredentialStore, createDb, type Db, migrateToLatest, upsertPlatform } from '@glassdome/db';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { loadPrivateKey, loadPrivateKeyFromStore, SSH_PRIVATE_KEY_KIND, SshKeyError } from '../src/index';
import { capturedPool, pinnedTarget, startSshd, type TestSshd } from './support';

let sshd: TestSshd;
let database: TestDatabase;
let db: Db;
let dir: string;
const passphrase = `pass-${randomBytes(8).toString('hex')}`;

before(async () => {
  [sshd, database] = await Promise.all([startSshd(), createTestDatabase('ssh_keys')]);
  db = createDb(database.url);
  await migrateToLatest(db);
  dir = mkdtempSync(join(tmpdir(), 'gd-ssh-keys-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', join(dir, 'encrypted')]);
  writeFileSync(join(dir, 'garbage'), 'this is not a key\n');
});

after(async () => {
  await db.destroy();
  await Promise.all([sshd.stop(), database.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

test('a key file is loaded and works', async () => {
  const privateKey = await loadPrivateKey(sshd.privateKeyPath);
  const { pool } = capturedPool();
  assert.equal((await pool.exec(pinnedTarget(sshd, { privateKey }), ['echo', 'hi'])).stdout, 'hi\n');
  pool.close();
});

test('an encrypted key needs its passphrase, and errors never repeat it', async () => {
  const path = join(dir, 'encrypted');
  assert.match(await loadPrivateKey(path, passphrase), /BEGIN OPENSSH PRIVATE KEY/);
  for (const attempt of [undefined, 'wrong']) {
    const error = await loadPrivateKey(path, attempt).catch((e) => e);
    assert.ok(error instanceof SshKeyError, String(error));
    assert.match(error.message, /passphrase/);
    assert.ok(!error.message.includes(passphrase));
  }
});

test('a missing or unreadable file names the path, not the content', async () => {
  await assert.rejects(loadPrivateKey(join(dir, 'absent')), /cannot read SSH private key file .*absent: ENOENT/);
  const error = await loadPrivateKey(join(dir, 'garbage')).catch((e) => e);
  assert.ok(error instanceof SshKeyError);
  assert.ok(!error.message.includes('this is not a key'));
});

test('a key sealed in the credential store is opened and works', async () => {
  const credentials = new CredentialStore(db, randomBytes(32));
  await upsertPlatform(db, {
    id: 'pve-test',
    apiUrl: 'https://127.0.0.1:8006',
    node: 'pve01',
    tokenId: 'glassdome@pve!deploy',
    tlsFingerprint: null,
  });
  await credentials.readOrCreate('pve-test', SSH_PRIVATE_KEY_KIND, () => sshd.privateKey);
  const privateKey = await loadPrivateKeyFromStore(credentials, 'pve-test');
  assert.equal(privateKey, readFileSync(sshd.privateKeyPath, 'utf8'));
  const { pool } = capturedPool();
  assert.equal((await pool.exec(pinnedTarget(sshd, { privateKey }), ['echo', 'sealed'])).stdout, 'sealed\n');
  pool.close();
  await assert.rejects(loadPrivateKeyFromStore(credentials, 'other-platform'), SshKeyError);
  await assert.rejects(
    loadPrivateKeyFromStore(new CredentialStore(db, randomBytes(32)), 'pve-test'),
    /cannot be opened/,
  );
});
