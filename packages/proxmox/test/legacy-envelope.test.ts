/**
 * PVE 8 before libpve-http-server 5.2 puts the error text only in the HTTP status line (body
 * `{"data":null}` plus `errors`); the classification must read it there just as well.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AlreadyExistsError,
  createProxmox,
  InvalidParameterError,
  NotFoundError,
  PermissionError,
  type Proxmox,
} from '../src/index';
import { type RunningSim, startSim } from './sim';

let sim: RunningSim;
let pve: Proxmox;

before(async () => {
  sim = await startSim({ errorEnvelope: 'legacy' });
  pve = createProxmox(sim.config({ retry: { attempts: 1 } }));
});

after(async () => {
  pve?.close();
  await sim?.stop();
});

test('legacy envelope: each class recognised from the status line and the errors map', async () => {
  const notFound = await pve.vms.config(4242).catch((error: Error) => error);
  assert.ok(notFound instanceof NotFoundError, String(notFound));
  assert.match(notFound.pveMessage ?? '', /does not exist/);

  const permission = await pve.access.createUser('intruder@pve').catch((error: Error) => error);
  assert.ok(permission instanceof PermissionError, String(permission));
  assert.ok(permission.path && permission.privilege);

  const probe = await pve.client.get('/cluster/nextid', { vmid: sim.info.templateVmid }).catch((error: Error) => error);
  assert.ok(probe instanceof AlreadyExistsError, String(probe));

  const invalid = await pve.vms
    .clone({ sourceVmid: sim.info.templateVmid, newid: 4244, name: 'not_a_dns_name' })
    .catch((error: Error) => error);
  assert.ok(invalid instanceof InvalidParameterError, String(invalid));
  assert.match(invalid.fieldErrors.name ?? '', /invalid format/);
});
