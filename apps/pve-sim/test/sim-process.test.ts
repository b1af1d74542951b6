/** `tsx apps/pve-sim/src/main.ts` as other packages' tests start it: HTTPS, info file, clean SIGTERM. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startProcess } from '@glassdome/testkit';

const root = new URL('../../..', import.meta.url).pathname;

function httpsGet(
  url: string,
  ca: string,
  auth: string,
): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { Authorization: auth } }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('main.ts serves HTTPS only, writes the info file, and saves its state on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pve-sim-proc-'));
  const infoFile = join(dir, 'info.json');
  const stateFile = join(dir, 'state.json');
  const sim = startProcess(process.execPath, ['--import', 'tsx', 'apps/pve-sim/src/main.ts'], {
    cwd: root,
    name: 'pve-sim',
    env: {
      PVE_SIM_PORT: '0',
      PVE_SIM_TLS: '1',
      PVE_SIM_TIME_SCALE: '0.01',
      PVE_SIM_INFO_FILE: infoFile,
      PVE_SIM_STATE_FILE: stateFile,
      PVE_SIM_TOKEN_SECRET: 'b7d3c1a0-1111-4222-8333-944455556666',
      PVE_SIM_SSH_PORT: '0',
    },
  });
  try {
    await sim.waitForOutput('pve-sim listening', 60_000);
    const info = JSON.parse(await readFile(infoFile, 'utf8'));
    assert.match(info.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(info.tlsFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(info.tokenId, 'glassdome@pve!deploy');
    assert.equal(info.tokenSecret, 'b7d3c1a0-1111-4222-8333-944455556666');
    assert.equal(info.node, 'pve01');
    assert.equal(info.templateVmid, 9000);
    assert.ok(sim.output().includes(info.tlsFingerprint), 'the fingerprint is printed at start');
    const auth = `PVEAPIToken=${info.tokenId}=${info.tokenSecret}`;
    const nodes = await httpsGet(`${info.apiUrl}/api2/json/nodes`, info.caCert, auth);
    assert.equal(nodes.status, 200);
    assert.equal(nodes.fingerprint, info.tlsFingerprint);
    assert.equal(JSON.parse(nodes.body).data[0].ssl_fingerprint, info.tlsFingerprint);
    const plain = await fetch(info.apiUrl.replace('https:', 'http:') + '/api2/json/version').then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(plain, 'refused', 'plain HTTP is not served while TLS is on');
    assert.equal(await sim.stop(), 0);
    assert.ok(existsSync(stateFile));
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    assert.equal(saved.format, 'pve-sim');
    assert.ok(saved.state.vms['9000']);
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
