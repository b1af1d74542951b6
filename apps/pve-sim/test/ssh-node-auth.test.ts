import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { Simulator } from '../src/sim';
import { type NodeSshServer, startNodeSsh } from '../src/ssh/host/node-ssh';
import { DiskProvenance } from '../src/ssh/provenance';
import { generateEd25519 } from '../src/ssh/server/keys';
import { connect, exec, pinnedHostKey } from './ssh-harness';

const dir = mkdtempSync(join(tmpdir(), 'pve-sim-ssh-auth-'));
const operator = generateEd25519('operator@test');
const outsider = generateEd25519('outsider@test');
const sim = new Simulator({ timeScale: 0.01, rootPassword: 'correct-horse-battery' });
let server: NodeSshServer;

before(async () => {
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `# operators\nfrom="127.0.0.1" ${operator.publicKey}\n`);
  server = await startNodeSsh({
    sim,
    port: 0,
    authorizedKeysPath: authorizedKeys,
    provenance: new DiskProvenance(sim),
    logger: createLogger({ name: 'pve-sim-ssh-auth-test', level: 'silent', format: 'json' }),
  });
});

after(async () => {
  await server.close();
  sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

const target = () => ({
  host: '127.0.0.1',
  port: server.port,
  hostVerifier: pinnedHostKey(server.hostKeyFingerprint),
});

test('with an authorized_keys file no client key is generated and its keys log in as root', async () => {
  assert.equal(server.privateKey, undefined);
  assert.equal(server.privateKeyPath, undefined);
  const client = await connect({ ...target(), username: 'root', privateKey: operator.privateKey });
  try {
    assert.deepEqual(await exec(client, 'id -un'), { code: 0, stdout: 'root\n', stderr: '' });
  } finally {
    client.end();
  }
});

test('a key not in the file, or a user other than root, is refused', async () => {
  await assert.rejects(
    connect({ ...target(), username: 'root', privateKey: outsider.privateKey }),
    /authentication methods failed/,
  );
  await assert.rejects(
    connect({ ...target(), username: 'admin', privateKey: operator.privateKey }),
    /authentication methods failed/,
  );
});

test("root@pam's password logs in too; a wrong one does not", async () => {
  const client = await connect({ ...target(), username: 'root', password: 'correct-horse-battery' });
  client.end();
  await assert.rejects(connect({ ...target(), username: 'root', password: 'wrong' }), /authentication methods failed/);
});
