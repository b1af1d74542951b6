/**
 * The web terminal trusts a guest as the installer does (docs/security.md, "Guest trust"): it logs
 * into a lab VM with that copy's key (lab VMs take no other) and accepts only the host key pinned
 * from the guest agent; an impostor answering at the VM's address is refused with a host key
 * mismatch, and a VM with no pin gets no terminal at all.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createDb, type Db } from '@glassdome/db';
import { type IsolatedStack, startIsolatedStack, waitFor } from '@glassdome/testkit';
import WebSocket from 'ws';

let isolated: IsolatedStack;
let stack: IsolatedStack['stack'];
let db: Db;

before(async () => {
  isolated = await startIsolatedStack(
    {
      installers: 1,
      env: { GLASSDOME_SECRET_KEY: randomBytes(32).toString('base64'), SSH_TIMEOUT_SECONDS: '20' },
    },
    {},
    'terminal_trust',
  );
  stack = isolated.stack;
  db = createDb(isolated.database.url);
});
after(async () => {
  await db?.destroy();
  await isolated?.stop();
});

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: answers are JSON whose shape each test asserts
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as any };
}

/** Opens a terminal and returns the first notice (ready or error) and, once ready, what `hostname` printed. */
function terminal(vmId: string): Promise<{ type: string; message: string; output: string }> {
  const ws = new WebSocket(`${stack.apiUrl.replace(/^http/, 'ws')}/api/v1/vms/${vmId}/terminal`, {
    headers: { Authorization: `Bearer ${stack.adminKey}` },
  });
  return new Promise((resolve, reject) => {
    let notice: { type: string; message: string } | undefined;
    let output = '';
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`terminal on ${vmId}: ${JSON.stringify(notice)} ${output}`));
    }, 30_000);
    const finish = () => {
      clearTimeout(timer);
      ws.close();
      resolve({ ...notice!, output });
    };
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve({ type: 'refused', message: String(res.statusCode), output: '' });
    });
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        const message = JSON.parse(data.toString()) as { type: string; message: string };
        notice ??= message;
        if (message.type === 'ready') ws.send(Buffer.from('hostname\n'));
        if (message.type === 'error') finish();
        return;
      }
      output += data.toString();
      if (/\bbox\b/.test(output.replace(/hostname/g, ''))) finish();
    });
  });
}

test('a lab VM’s terminal logs in with its copy’s key against the pinned host key; an impostor is refused', async () => {
  const accepted = await api('POST', '/api/v1/labs', {
    name: 'term',
    networks: [{ name: 'lan', cidr: '10.40.0.0/24' }],
    vms: [{ name: 'box', os: 'ubuntu-22.04', networks: ['lan'] }],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const lab = await waitFor(
    'the lab to settle',
    async () => {
      const { body } = await api('GET', `/api/v1/labs/${accepted.body.id}`);
      return ['ready', 'failed', 'degraded'].includes(body.status) ? body : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 250 },
  );
  assert.equal(lab.status, 'ready', lab.error);
  const vm = lab.vms[0] as { id: string; vmid: number };

  const opened = await terminal(vm.id);
  assert.equal(opened.type, 'ready', opened.message);
  assert.match(opened.output, /\bbox\b/, 'the shell runs on the guest');

  await isolated.sim.admin('POST', '/faults', { impostorHostKey: vm.vmid });
  try {
    const refused = await terminal(vm.id);
    assert.equal(refused.type, 'error');
    assert.match(refused.message, /HOST KEY MISMATCH/);
  } finally {
    await isolated.sim.admin('POST', '/faults', { impostorHostKey: null });
  }

  await db.deleteFrom('vm_host_keys').where('vm_id', '=', vm.id).execute();
  const unpinned = await terminal(vm.id);
  assert.deepEqual([unpinned.type, unpinned.message], ['refused', '409']);
});
