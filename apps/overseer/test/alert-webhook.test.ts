import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { freePort, waitFor } from '@glassdome/testkit';
import { type Harness, startHarness, testSettings } from './harness';

const secret = 'webhook-secret-for-tests-only';
let h: Harness;
let server: Server;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
/** Status codes to answer, in order; 200 once used up. */
const answers: number[] = [];

before(async () => {
  const port = await freePort();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  h = await startHarness(
    'webhook',
    testSettings({ webhookUrls: [`http://127.0.0.1:${port}/hook`], webhookSecret: secret }),
  );
});

after(async () => {
  await h?.stop();
  server?.close();
});

function verify(delivery: { headers: IncomingHttpHeaders; body: string }) {
  const timestamp = String(delivery.headers['x-glassdome-timestamp']);
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex')}`;
  assert.equal(delivery.headers['x-glassdome-signature'], expected);
  return JSON.parse(delivery.body) as { event: string; alert: { kind: string; state: string } };
}

test('alert changes are POSTed signed, and a failed delivery is retried as a job', async () => {
  answers.push(503);
  await h.sim.admin('POST', '/faults', { nodeOffline: h.sim.info.node });
  await h.scan();
  const webhooks = h.ctx.producer.queues.overseer;
  const [job] = await waitFor('the first delivery to fail and wait for its retry', async () => {
    const delayed = await webhooks.getDelayed();
    return delayed.length === 1 && delayed;
  });
  assert.equal(job?.name, 'alert.webhook');
  assert.equal(job?.attemptsMade, 1);
  assert.ok(!JSON.stringify(job?.data).includes(secret), 'the secret stays out of job data');
  await job!.promote();
  await waitFor('the retried delivery', () => received.length === 2);
  const opened = verify(received[1]!);
  assert.equal(received[1]!.headers['x-glassdome-event'], 'alert.opened');
  assert.equal(opened.alert.kind, 'node-offline');
  assert.equal(opened.alert.state, 'open');

  await h.sim.admin('POST', '/faults', { nodeOffline: null });
  await h.scan();
  await waitFor('the resolved delivery', () => received.length === 3);
  const resolved = verify(received[2]!);
  assert.equal(resolved.event, 'resolved');
  assert.equal(resolved.alert.state, 'resolved');
});

test('jobs carry the sealed target id, never the URL; the credentials table holds it sealed', async () => {
  const jobs = await h.ctx.producer.queues.overseer.getJobs(['completed', 'failed', 'delayed', 'waiting']);
  const webhookJobs = jobs.filter((job) => job.name === 'alert.webhook');
  assert.ok(webhookJobs.length > 0);
  for (const job of webhookJobs) {
    assert.deepEqual(Object.keys(job.data).sort(), ['alertId', 'event', 'webhookId']);
    assert.ok(!JSON.stringify(job.data).includes('/hook'), 'no URL in the job');
  }
  const sealed = await h.db.selectFrom('credentials').select(['kind', 'sealed']).execute();
  const target = sealed.find((row) => row.kind.startsWith('webhook:'));
  assert.ok(target, 'the target is stored');
  assert.ok(!target.sealed.includes('127.0.0.1'), 'stored sealed, not in the clear');
});
