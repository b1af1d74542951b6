/**
 * Every error class against the simulator, retried or not as its class says, and a task that fails
 * after its POST succeeded. Retries are counted through the client's own log lines, which are also
 * checked, with every error message, for secrets.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import {
  AlreadyExistsError,
  AuthenticationError,
  createProxmox,
  InvalidParameterError,
  NotFoundError,
  PermissionError,
  type Proxmox,
  parseUpid,
  TaskFailedError,
  TransientError,
} from '../src/index';
import { type RunningSim, startSim } from './sim';

let sim: RunningSim;
let pve: Proxmox;
let logText = '';
const errorsSeen: Error[] = [];
const logger = createLogger({
  name: 'proxmox-test',
  level: 'debug',
  destination: new Writable({
    write(chunk, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  }),
});

const retryLines = () => logText.split('\n').filter((line) => line.includes('"msg":"retrying"')).length;

/** Runs `call`, expecting it to fail; returns the error and how many retries the client logged. */
async function failure(call: () => Promise<unknown>): Promise<{ error: Error; retries: number }> {
  const before = retryLines();
  const error = await call().then(
    () => assert.fail('expected a failure'),
    (caught: Error) => caught,
  );
  errorsSeen.push(error);
  return { error, retries: retryLines() - before };
}

before(async () => {
  sim = await startSim();
  pve = createProxmox(sim.config({ retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 } }), logger);
});

after(async () => {
  pve?.close();
  await sim?.stop();
});

test('not found: a VM that does not exist, never retried', async () => {
  const { error, retries } = await failure(() => pve.vms.config(4242));
  assert.ok(error instanceof NotFoundError, error.message);
  assert.equal(retries, 0);
});

test('already exists: a taken id named to /cluster/nextid and a second clone onto an id just used, never retried', async () => {
  // PVE answers `GET /cluster/nextid?vmid=N` with 400 "VM N already exists" when N is taken.
  const taken = (vmid: number) =>
    pve.client.get('/cluster/nextid', { vmid }).then(
      () => false,
      (error: Error) => (error instanceof AlreadyExistsError ? true : Promise.reject(error)),
    );
  assert.equal(await taken(sim.info.templateVmid), true);
  assert.equal(await taken(4243), false);
  await pve.tasks.wait(await pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid: 4243, name: 'first' }));
  assert.equal(await taken(4243), true);
  const { error, retries } = await failure(() =>
    pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid: 4243, name: 'second' }),
  );
  assert.ok(error instanceof AlreadyExistsError, error.message);
  assert.equal(retries, 0);
});

test("invalid parameter: PVE's field errors, never retried", async () => {
  const { error, retries } = await failure(() =>
    pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid: 4244, name: 'not_a_dns_name' }),
  );
  assert.ok(error instanceof InvalidParameterError, error.message);
  assert.match(error.fieldErrors.name ?? '', /invalid format/);
  assert.equal(retries, 0);
});

test('permission: the least-privilege deploy token may not create users; path and privilege named', async () => {
  const { error, retries } = await failure(() => pve.access.createUser('intruder@pve'));
  assert.ok(error instanceof PermissionError, error.message);
  assert.match(error.path ?? '', /^\/access/);
  assert.match(error.privilege ?? '', /User\.Modify/);
  assert.equal(retries, 0);
});

test('authentication: a wrong token secret, never retried', async () => {
  const stranger = createProxmox(
    sim.config({ auth: { tokenId: sim.info.tokenId, tokenSecret: '00000000-0000-4000-8000-000000000000' } }),
    logger,
  );
  const { error, retries } = await failure(() => stranger.cluster.nodes());
  stranger.close();
  assert.ok(error instanceof AuthenticationError, error.message);
  assert.equal(retries, 0);
});

test('transient: injected 500s are retried with backoff up to the bound, then surface', async () => {
  await sim.setFaults({ rate500: 1 });
  const { error, retries } = await failure(() => pve.cluster.nodes());
  assert.ok(error instanceof TransientError, error.message);
  assert.equal(error.status, 500);
  assert.equal(retries, 3, 'four attempts in all');

  await sim.setFaults({ rate500: 0.5 });
  const patient = createProxmox(sim.config({ retry: { attempts: 12, baseDelayMs: 1, maxDelayMs: 5 } }), logger);
  const before = retryLines();
  for (let call = 0; call < 10; call++) assert.ok((await patient.cluster.nodes()).length > 0);
  patient.close();
  assert.ok(retryLines() > before, 'some calls succeeded only on a retry');
  await sim.setFaults({ rate500: 0 });
});

test('595 (request never reached pvedaemon) is retried even for a non-idempotent POST', async () => {
  await sim.setFaults({ rate595: 1 });
  const { error, retries } = await failure(() => pve.vms.start(sim.info.templateVmid));
  await sim.setFaults({ rate595: 0 });
  assert.ok(error instanceof TransientError, error.message);
  assert.equal(error.status, 595);
  assert.equal((error as TransientError).maybeApplied, false);
  assert.equal(retries, 3);
});

test('a task that fails after a successful POST raises its exit status', async () => {
  await sim.setFaults({ failTasks: { type: 'qmclone', count: 1 } });
  const upid = await pve.vms.clone({ sourceVmid: sim.info.templateVmid, newid: 4245, name: 'doomed' });
  assert.equal(parseUpid(upid).type, 'qmclone');
  const { error } = await failure(() => pve.tasks.wait(upid, { deadlineMs: 30_000 }));
  assert.ok(error instanceof TaskFailedError, error.message);
  assert.equal(error.upid, upid);
  assert.ok(error.exitstatus.length > 0 && error.exitstatus !== 'OK');
  assert.ok(error.message.includes(error.exitstatus));
  const log = await pve.tasks.log(upid);
  assert.match(log.at(-1)?.t ?? '', /^TASK ERROR: /);
});

test('ticket auth as root: users and tokens; a token without ACLs gets PermissionError on /vms/<id>', async () => {
  const root = createProxmox(sim.config({ auth: { username: 'root@pam', password: sim.info.rootPassword } }), logger);
  await root.access.createUser('auditor@pve', { comment: 'test' });
  const duplicate = await failure(() => root.access.createUser('auditor@pve'));
  assert.ok(duplicate.error instanceof AlreadyExistsError, duplicate.error.message);
  const token = await root.access.createToken('auditor@pve', 'probe', { privsep: false });
  assert.equal(token.fullTokenId, 'auditor@pve!probe');
  assert.deepEqual(
    (await root.access.tokens('auditor@pve')).map((entry) => entry.tokenid),
    ['probe'],
  );
  const bare = createProxmox(sim.config({ auth: { tokenId: token.fullTokenId, tokenSecret: token.value } }), logger);
  const { error } = await failure(() => bare.vms.config(sim.info.templateVmid));
  bare.close();
  assert.ok(error instanceof PermissionError, error.message);
  assert.equal(error.path, `/vms/${sim.info.templateVmid}`);
  assert.equal(error.privilege, 'VM.Audit');
  errorsSeen.push(new Error(token.fullTokenId)); // the id is not secret; its value is checked below
  const leaked = [token.value, sim.info.rootPassword, sim.info.tokenSecret].filter((secret) =>
    logText.includes(secret),
  );
  root.close();
  assert.deepEqual(leaked, []);
});

test('no secret appears in any error message or log line of this file', () => {
  const secrets = [sim.info.tokenSecret, sim.info.rootPassword];
  const texts = [logText, ...errorsSeen.map((error) => `${error.message}\n${error.stack}\n${JSON.stringify(error)}`)];
  for (const text of texts) for (const secret of secrets) assert.ok(!text.includes(secret));
  assert.ok(errorsSeen.length >= 9 && logText.length > 0, 'the check saw real errors and logs');
});
