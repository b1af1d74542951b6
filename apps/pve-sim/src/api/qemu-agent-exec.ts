/**
 * Guest agent calls that reach into the guest: `exec` / `exec-status` and `file-read` /
 * `file-write`. qemu-server forwards them to qemu-ga (guest-exec, guest-file-open/read/write/
 * close) and turns an agent's error into `500 Agent error: <desc>`; output comes back decoded.
 */
import { fail } from '../errors';
import { GuestAgentError, guestOs } from '../guest-agent';
import type { HandlerContext, Route } from '../router';
import { p } from '../validate';
import { requireAgent } from './qemu-agent';

/** Largest file `file-read` returns (16 MiB); the rest is cut and `truncated: 1` set. */
const maxReadBytes = 16 * 1024 * 1024;

async function agentCall<T>(call: () => Promise<T> | T): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GuestAgentError) fail(`Agent error: ${error.message}`);
    throw error;
  }
}

/** Perl hands the agent's bytes to the JSON encoder as characters, one per byte. */
const asPerlString = (bytes: Buffer) => bytes.toString('latin1');

async function exec(ctx: HandlerContext) {
  const vm = await requireAgent(ctx);
  const argv = ctx.params.command!.split('\0');
  const input = ctx.params['input-data'];
  const pid = await agentCall(() =>
    guestOs(ctx.sim, 'guest-exec').exec(vm.vmid, argv, input === undefined ? undefined : Buffer.from(input)),
  );
  return { pid };
}

async function execStatus(ctx: HandlerContext) {
  const vm = await requireAgent(ctx);
  const status = await agentCall(() =>
    guestOs(ctx.sim, 'guest-exec-status').execStatus(vm.vmid, Number(ctx.params.pid)),
  );
  const answer: Record<string, unknown> = { exited: status.exited ? 1 : 0 };
  if (status.exitcode !== undefined) answer.exitcode = status.exitcode;
  if (status.out?.length) answer['out-data'] = asPerlString(status.out);
  if (status.err?.length) answer['err-data'] = asPerlString(status.err);
  return answer;
}

async function fileRead(ctx: HandlerContext) {
  const vm = await requireAgent(ctx);
  const content = await agentCall(() => guestOs(ctx.sim, 'guest-file-open').readFile(vm.vmid, ctx.params.file!));
  const read = content.subarray(0, maxReadBytes);
  const answer: Record<string, unknown> = { content: asPerlString(read), 'bytes-read': read.length };
  if (content.length > maxReadBytes) answer.truncated = 1;
  return answer;
}

async function fileWrite(ctx: HandlerContext) {
  const vm = await requireAgent(ctx);
  const { content, encode } = ctx.params;
  // encode=1 (the default): PVE base64-encodes the text for the agent; encode=0: it already is.
  const bytes = encode === '0' ? Buffer.from(content!, 'base64') : Buffer.from(content!);
  await agentCall(() => guestOs(ctx.sim, 'guest-file-open').writeFile(vm.vmid, ctx.params.file!, bytes));
  return null;
}

const base = { node: p.node, vmid: p.vmid };
const path = '/nodes/{node}/qemu/{vmid}/agent';

export const qemuAgentExecRoutes: Route[] = [
  {
    method: 'POST',
    path: `${path}/exec`,
    params: { ...base, command: p.reqStr, 'input-data': { type: 'string', optional: true, maxLength: 65536 } },
    handler: exec,
  },
  { method: 'GET', path: `${path}/exec-status`, params: { ...base, pid: { type: 'integer' } }, handler: execStatus },
  { method: 'GET', path: `${path}/file-read`, params: { ...base, file: p.reqStr }, handler: fileRead },
  {
    method: 'POST',
    path: `${path}/file-write`,
    params: { ...base, file: p.reqStr, content: { type: 'string', maxLength: 61440 }, encode: p.bool },
    handler: fileWrite,
  },
];
