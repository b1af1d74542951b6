import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runCli } from '../program';
import { captureIo } from '../test-io';

const LAB_ID = '6f1c2a54-0000-4000-8000-000000000001';
const VM_ID = '6f1c2a54-0000-4000-8000-0000000000a1';

function lab(status: string, vmStatus: string) {
  const step = (name: string, done: boolean) => ({
    name,
    status: done ? 'done' : 'running',
    attempts: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: done ? '2026-01-01T00:00:04.000Z' : null,
  });
  const done = vmStatus === 'ready' || vmStatus === 'failed';
  return {
    id: LAB_ID,
    name: 'fake-lab',
    status,
    error: status === 'failed' ? 'clone timed out' : null,
    createdAt: '2026-01-01T00:00:00.000Z',
    vms: [
      {
        id: VM_ID,
        name: 'target',
        os: 'ubuntu-22.04',
        status: vmStatus,
        ip: done ? '10.0.0.5' : null,
        steps: [step('clone', true), step('verify', done)],
      },
    ],
  };
}

/**
 * A stand-in API whose event stream drops after the first event, as a proxy restart would: the
 * watch must come back with Last-Event-ID and carry on to the end.
 */
async function fakeApi(finalStatus: 'ready' | 'failed') {
  const lastEventIds: (string | undefined)[] = [];
  let settled = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === `/api/v1/labs/${LAB_ID}`) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(settled ? lab(finalStatus, finalStatus) : lab('deploying', 'deploying')));
      return;
    }
    if (req.url === `/api/v1/labs/${LAB_ID}/events`) {
      lastEventIds.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      const event = (id: number, message: string) =>
        `id: ${id}\nevent: progress\ndata: ${JSON.stringify({ id, at: '2026-01-01T00:00:01.000Z', kind: 'vm.step', message, vmId: VM_ID })}\n\n`;
      if (lastEventIds.length === 1) {
        res.end(`event: status\ndata: {"status":"deploying"}\n\n${event(1, 'clone done')}`);
        return;
      }
      settled = true;
      res.write(event(2, 'verify done'));
      res.write(`event: status\ndata: ${JSON.stringify({ status: finalStatus })}\n\n`);
      return;
    }
    res.statusCode = 404;
    res.end('{"error":{"code":"not_found","message":"nothing here"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    lastEventIds,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('lab watch off a terminal prints each event as a line, resumes a dropped stream where it stopped, and ends with the IPs', async () => {
  const api = await fakeApi('ready');
  try {
    const capture = captureIo({ GLASSDOME_URL: api.url, GLASSDOME_API_KEY: 'k' });
    const code = await runCli(['lab', 'watch', LAB_ID], capture.io);
    assert.equal(code, 0, capture.stderr());
    assert.deepEqual(api.lastEventIds, [undefined, '1']);
    const lines = capture.stdout().split('\n');
    assert.deepEqual(lines.slice(0, 2), ['00:00:01 target: clone done', '00:00:01 target: verify done']);
    assert.match(capture.stdout(), /^target +ready +10\.0\.0\.5 +4s$/m);
    assert.match(capture.stdout(), new RegExp(`^lab fake-lab ready \\(${LAB_ID}\\)$`, 'm'));
  } finally {
    await api.close();
  }
});

test('a lab that ends failed is failed work: exit 1 with the reason in one line', async () => {
  const api = await fakeApi('failed');
  try {
    const capture = captureIo({ GLASSDOME_URL: api.url, GLASSDOME_API_KEY: 'k' });
    const code = await runCli(['lab', 'watch', LAB_ID], capture.io);
    assert.equal(code, 1);
    assert.equal(capture.stderr(), 'error: lab fake-lab ended failed: clone timed out\n');
  } finally {
    await api.close();
  }
});
