/** An unmodified third-party client (Debian's python3-proxmoxer) deploys a VM on the simulator and walks its indexes. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startSimulator } from '../src/index';

/** The first Python that can import proxmoxer (pyenv's python3 may shadow Debian's). */
function findPython(): string | undefined {
  return ['python3', '/usr/bin/python3'].find(
    (python) => spawnSync(python, ['-c', 'import proxmoxer'], { stdio: 'ignore' }).status === 0,
  );
}

const python = findPython();

function runPython(script: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(python!, [script, ...args]);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    proc.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('proxmoxer authenticates with a token, clones, waits, starts and reads config and agent interfaces', {
  skip: python ? false : 'python3 -c "import proxmoxer" fails: install python3-proxmoxer to run this test',
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pve-sim-px-'));
  const sim = await startSimulator({ port: 0, tls: true, timeScale: 0.01 });
  try {
    await writeFile(join(dir, 'info.json'), JSON.stringify(sim.info));
    await writeFile(join(dir, 'ca.pem'), sim.info.caCert!);
    const script = new URL('./fixtures/proxmoxer_deploy.py', import.meta.url).pathname;
    const child = await runPython(script, [join(dir, 'info.json'), join(dir, 'ca.pem'), '123']);
    assert.equal(child.status, 0, child.stderr);
    const seen = JSON.parse(child.stdout.trim().split('\n').pop()!);
    assert.equal(seen.clone, 'OK');
    assert.equal(seen.start, 'OK');
    assert.equal(seen.name, 'px-vm');
    assert.equal(seen.ciuser, 'px');
    assert.equal(seen.status, 'running');
    const eth = seen.interfaces.result.find((i: { name: string }) => i.name === 'ens18');
    assert.equal(eth['ip-addresses'][0]['ip-address'], '127.64.0.123');
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('proxmoxer reads the storage, cluster and access indexes as the Ansible info modules do', {
  skip: python ? false : 'python3 -c "import proxmoxer" fails: install python3-proxmoxer to run this test',
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pve-sim-px-'));
  const sim = await startSimulator({ port: 0, tls: true, timeScale: 0.01 });
  try {
    await writeFile(join(dir, 'info.json'), JSON.stringify(sim.info));
    await writeFile(join(dir, 'ca.pem'), sim.info.caCert!);
    const script = new URL('./fixtures/proxmoxer_indexes.py', import.meta.url).pathname;
    const child = await runPython(script, [join(dir, 'info.json'), join(dir, 'ca.pem')]);
    assert.equal(child.status, 0, child.stderr);
    const seen = JSON.parse(child.stdout.trim().split('\n').pop()!);
    assert.equal(seen.version, '8.4.14');
    assert.deepEqual(seen.storages, ['local-lvm']);
    assert.deepEqual(seen.lvmthin, ['local-lvm']);
    assert.equal(seen.readOneStorage, 403, 'reading a storage config needs Datastore.Allocate');
    assert.ok(seen.cluster.includes('resources') && seen.cluster.includes('sdn'));
    assert.deepEqual(seen.clusterStatus, ['cluster', 'node']);
    assert.deepEqual(seen.storageResources, ['storage/pve01/local-lvm']);
    assert.ok(seen.access.includes('users') && seen.access.includes('domains'));
    assert.deepEqual(seen.domains, ['pam', 'pve']);
    assert.deepEqual(seen.groups, []);
    assert.ok(seen.permissions.includes('/storage/local-lvm'));
    assert.deepEqual(seen.nodeStorage, ['local-lvm']);
    assert.ok(seen.storageDir.includes('content'));
    assert.equal(seen.storageStatus, 'lvmthin');
    assert.ok(seen.content.includes('local-lvm:base-9000-disk-0'));
    assert.ok(seen.vmStatusDir.includes('current'));
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
