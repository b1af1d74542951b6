/**
 * `glassdome network` as an admin uses it, against a whole stack on the simulator: a network given to
 * a project, a VM joining it with `vm create --network`, refusals as one line with a non-zero exit
 * (a network in use, an unknown network), and the network deleted once its VM is gone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type IsolatedStack, startIsolatedStack, waitFor } from '@glassdome/testkit';
import { glassdome } from './drive';

let isolated: IsolatedStack;
let home: string;
before(async () => {
  isolated = await startIsolatedStack({ installers: 1, env: { SSH_TIMEOUT_SECONDS: '20' } }, {}, 'cli_network');
  home = mkdtempSync(join(tmpdir(), 'gd-cli-net-'));
});
after(async () => {
  await isolated?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

function run(args: string[]) {
  return glassdome(
    args,
    {
      PATH: process.env.PATH,
      HOME: home,
      GLASSDOME_CONFIG: join(home, 'absent-config.yaml'),
      GLASSDOME_URL: isolated.stack.apiUrl,
      GLASSDOME_API_KEY: isolated.stack.adminKey,
    },
    240_000,
  );
}

test('network create, vm create --network, a refused delete, then the delete once the VM is gone', async () => {
  const made = await run([
    'network',
    'create',
    'range',
    '--project',
    'default',
    '--cidr',
    '10.40.0.0/24',
    '--wait',
    '--json',
  ]);
  assert.equal(made.code, 0, made.stderr);
  const network = JSON.parse(made.stdout) as { id: string; status: string; bridge: string };
  assert.equal(network.status, 'ready');

  const listed = await run(['network', 'list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(
    listed.stdout,
    new RegExp(`${network.id}\\s+default\\s+range\\s+10\\.40\\.0\\.0/24\\s+ready\\s+${network.bridge}`),
  );

  const unknown = await run(['vm', 'create', '--name', 'lost', '--os', 'ubuntu-22.04', '--network', 'nowhere']);
  assert.notEqual(unknown.code, 0);
  assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
  assert.match(unknown.stderr, /network\.name/);

  const vm = await run([
    'vm',
    'create',
    '--name',
    'netbox',
    '--os',
    'ubuntu-22.04',
    '--network',
    'range',
    '--ip',
    '10.40.0.10/24',
    '--wait',
    '--json',
  ]);
  assert.equal(vm.code, 0, vm.stderr);
  const vmId = (JSON.parse(vm.stdout) as { id: string }).id;

  const busy = await run(['network', 'delete', network.id]);
  assert.notEqual(busy.code, 0);
  assert.equal(busy.stderr.trim().split('\n').length, 1, busy.stderr);
  assert.match(busy.stderr, /used by 1 VM/);

  assert.equal((await run(['vm', 'destroy', vmId])).code, 0);
  await waitFor(
    'the VM destroyed',
    async () => JSON.parse((await run(['vm', 'show', vmId, '--json'])).stdout).status === 'destroyed',
    { timeoutMs: 120_000, intervalMs: 1_000 },
  );
  const deleted = await run(['network', 'delete', network.id]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleting/);
  await waitFor(
    'the network gone from the list',
    async () => !(await run(['network', 'list'])).stdout.includes(network.id),
    { timeoutMs: 60_000, intervalMs: 1_000 },
  );
});
