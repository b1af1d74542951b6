/**
 * `glassdome templates retry|delete <id>`: the requests they send and what they print, against a
 * local HTTP server that answers as the API does (the API's own behaviour is tested in apps/api).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { runCli } from './program';
import { captureIo } from './test-io';

const seen: string[] = [];
let server: Server;
let url: string;
const id = '0b4c5a1e-6f2d-4c3b-9a8e-1d2c3b4a5f60';

before(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST' && req.url === `/api/v1/templates/${id}/retry`) {
      res.statusCode = 202;
      return res.end(JSON.stringify({ id, status: 'queued', jobId: `template-create.${id}.retry-1` }));
    }
    if (req.method === 'DELETE' && req.url === `/api/v1/templates/${id}`) {
      res.statusCode = 204;
      return res.end();
    }
    res.statusCode = 409;
    res.end(
      JSON.stringify({
        error: { code: 'conflict', message: 'only a failed template can be deleted; this one is ready' },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  url = `http://127.0.0.1:${address.port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function run(argv: string[]) {
  const capture = captureIo({ GLASSDOME_API_KEY: 'test-key', GLASSDOME_URL: url });
  const code = await runCli(argv, capture.io);
  return { code, stdout: capture.stdout(), stderr: capture.stderr() };
}

test('templates retry asks the API to build the failed template again and names the new job', async () => {
  const { code, stdout } = await run(['templates', 'retry', id]);
  assert.equal(code, 0);
  assert.equal(stdout, `template ${id} queued again (job template-create.${id}.retry-1)\n`);
  assert.equal(seen.at(-1), `POST /api/v1/templates/${id}/retry`);
});

test('templates delete removes a failed template; a refusal is reported with the reason', async () => {
  const deleted = await run(['templates', 'delete', id, '--json']);
  assert.equal(deleted.code, 0);
  assert.deepEqual(JSON.parse(deleted.stdout), { id, deleted: true });
  assert.equal(seen.at(-1), `DELETE /api/v1/templates/${id}`);
  const refused = await run(['templates', 'delete', '0b4c5a1e-0000-4000-8000-000000000000']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /only a failed template can be deleted/);
});
