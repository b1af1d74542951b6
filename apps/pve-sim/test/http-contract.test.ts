import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestSim, type TestSim } from './helpers';

let sim: TestSim;
before(async () => {
  sim = await startTestSim();
});
after(() => sim.stop());

test('success answers carry data in the envelope with PVE headers', async () => {
  const answer = await sim.api('GET', '/version');
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('server'), 'pve-api-daemon/3.0');
  assert.equal(answer.headers.get('content-type'), 'application/json;charset=UTF-8');
  assert.deepEqual(answer.body, { data: { version: '8.4.14', release: '8.4', repoid: 'b502d23c55afcba1' } });
});

test('unknown paths answer 501 with the method and path, and close the connection', async () => {
  const answer = await sim.api('GET', '/nodes/pve01/foo');
  assert.equal(answer.status, 501);
  assert.equal(answer.statusText, "Method 'GET /nodes/pve01/foo' not implemented");
  assert.equal(answer.headers.get('connection'), 'close');
  assert.equal(answer.body?.message, "Method 'GET /nodes/pve01/foo' not implemented\n");
});

test('bad and missing credentials get 401 with an empty body', async () => {
  const bad = await sim.api('GET', '/version', {}, 'PVEAPIToken=glassdome@pve!deploy=wrong-secret');
  assert.equal(bad.status, 401);
  assert.equal(bad.statusText, 'Authentication failed!');
  assert.equal(bad.text, '');
  assert.equal(bad.headers.get('content-type'), null);
  const none = await sim.api('GET', '/version', {}, {});
  assert.equal(none.status, 401);
  assert.equal(none.statusText, 'No ticket');
  const malformed = await sim.api('GET', '/version', {}, 'PVEAPIToken=nonsense');
  assert.equal(malformed.status, 401);
});

test('the token secret is split at the last "=" and a space after PVEAPIToken works too', async () => {
  const spaced = await sim.api('GET', '/version', {}, `PVEAPIToken ${sim.running.tokenId}=${sim.running.tokenSecret}`);
  assert.equal(spaced.status, 200);
});

test('parameter errors are 400 with an errors map naming every bad parameter', async () => {
  const answer = await sim.api('GET', '/nodes/pve01/qemu/9000/config', { current: 'true', bogus: '1' });
  assert.equal(answer.status, 400);
  assert.equal(answer.statusText, 'Parameter verification failed.');
  assert.deepEqual(answer.body, {
    data: null,
    message: 'Parameter verification failed.\n',
    errors: {
      current: "type check ('boolean') failed - got 'true'",
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
    },
  });
  const vmid = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '99' });
  assert.deepEqual(vmid.body?.errors, { newid: 'value must have a minimum value of 100' });
  const missing = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', {});
  assert.deepEqual(missing.body?.errors, { newid: 'property is missing and it is not optional' });
  const name = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '150', name: 'bad_name' });
  assert.deepEqual(name.body?.errors, { name: 'invalid format - value does not look like a valid DNS name\n' });
});

test('a body on DELETE is refused with 501', async () => {
  const res = await fetch(`${sim.running.apiUrl}/api2/json/nodes/pve01/qemu/9000`, {
    method: 'DELETE',
    headers: { Authorization: sim.tokenAuth, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'purge=1',
  });
  assert.equal(res.status, 501);
  assert.equal(res.statusText, "Unexpected content for method 'DELETE'");
});

test('JSON bodies are accepted, booleans included', async () => {
  const res = await fetch(`${sim.running.apiUrl}/api2/json/nodes/pve01/qemu/9000/clone`, {
    method: 'POST',
    headers: { Authorization: sim.tokenAuth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ newid: 160, full: false, name: 'json-clone' }),
  });
  assert.equal(res.status, 200);
  assert.equal(await sim.waitTask(((await res.json()) as { data: string }).data), 'OK');
});

test('path and body values that conflict are a 400', async () => {
  const answer = await sim.api('POST', '/nodes/pve01/qemu/9000/clone', { newid: '170', node: 'other' });
  assert.deepEqual(answer.body?.errors, {
    node: 'duplicate parameter (already defined in URI) with conflicting values!',
  });
});

test('field types follow PVE: nextid and memory are strings, cores and template numbers', async () => {
  const next = await sim.api('GET', '/cluster/nextid');
  assert.equal(typeof next.body?.data, 'string');
  const config = (await sim.api('GET', '/nodes/pve01/qemu/9000/config')).body?.data as Record<string, unknown>;
  assert.equal(config.memory, '2048');
  assert.equal(config.cores, 2);
  assert.equal(config.template, 1);
  assert.equal(config.agent, 'enabled=1');
  assert.match(String(config.digest), /^[0-9a-f]{40}$/);
  const status = (await sim.api('GET', '/nodes/pve01/status')).body?.data as {
    loadavg: unknown[];
    cpuinfo: { mhz: unknown };
  };
  assert.deepEqual(
    status.loadavg.map((x) => typeof x),
    ['string', 'string', 'string'],
  );
  assert.equal(typeof status.cpuinfo.mhz, 'string');
});

test('a missing VM is a 500 naming its config file', async () => {
  const answer = await sim.api('GET', '/nodes/pve01/qemu/4242/status/current');
  assert.equal(answer.status, 500);
  assert.equal(answer.statusText, "Configuration file 'nodes/pve01/qemu-server/4242.conf' does not exist");
});

test('an unknown node fails hostname lookup', async () => {
  const answer = await sim.api('GET', '/nodes/nowhere/qemu');
  assert.equal(answer.status, 500);
  assert.match(answer.statusText, /^hostname lookup 'nowhere' failed/);
});

test('the legacy envelope leaves the message out of the body', async () => {
  const legacy = await startTestSim({ errorEnvelope: 'legacy', withTemplate: false });
  try {
    const answer = await legacy.api('GET', '/nodes/pve01/qemu/100/config');
    assert.equal(answer.status, 500);
    assert.deepEqual(answer.body, { data: null });
    assert.equal(answer.statusText, "Configuration file 'nodes/pve01/qemu-server/100.conf' does not exist");
  } finally {
    await legacy.stop();
  }
});

test('a worker closes its connections after its 1000th request, before their own 100 are up', async () => {
  const { Agent, request } = await import('node:http');
  const own = await startTestSim();
  // One connection at a time; each connection's requests counted, and those closed before their 100th.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const served = new Map<object, number>();
  const closedEarly: number[] = [];
  const get = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(`${own.running.apiUrl}/api2/json${path}`, {
        agent,
        headers: { Authorization: `PVEAPIToken=${own.running.tokenId}=${own.running.tokenSecret}` },
      });
      req.on('response', (res) => {
        const count = (served.get(req.socket!) ?? 0) + 1;
        served.set(req.socket!, count);
        if (res.headers.connection === 'close' && res.statusCode === 200 && count < 100) closedEarly.push(count);
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    // The first connection ends after 51 requests (an error answer closes it): the worker that took it
    // reaches its 1000th request in the middle of a later connection of its own.
    for (let i = 0; i < 50; i++) await get('/version');
    await get('/nodes/pve01/foo');
    for (let i = 0; i < 3300; i++) await get('/version');
  } finally {
    agent.destroy();
    await own.stop();
  }
  assert.ok(Math.max(...served.values()) <= 100, 'no connection serves more than 100 requests');
  assert.deepEqual(closedEarly, [49], 'the worker of the short first connection closed its 11th at its 49th request');
});
