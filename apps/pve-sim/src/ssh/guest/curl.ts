/**
 * `curl` inside a guest. A request to the guest itself (127.0.0.1, localhost) is answered from its
 * document root when a web server (Apache, nginx, lighttpd) runs, the file served as it lies on
 * disk (no PHP runs). A request to another address goes through the packet model: another
 * guest's web server answers from that guest's document root, the simulated outside serves a
 * page on 80/443, and anything refused, dropped or unroutable fails with curl's own errors and
 * exit codes (timeouts bounded by `-m`/`--connect-timeout`, on the simulator's time scale).
 */
import { posix } from 'node:path';
import type { CommandOutcome, Invocation } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';
import { type GuestNet, netTimings } from './guest-network';

const webServers = ['apache2', 'nginx', 'lighttpd'];
const documentRoot = '/var/www/html';
const indexFiles = ['index.html', 'index.php', 'index.nginx-debian.html', 'index.htm'];
const localHosts = ['127.0.0.1', 'localhost', '[::1]'];
/** Options that take a value, short and long. */
const valued = new Set(
  'oAHXdumewrEKx'
    .split('')
    .concat([
      '--output',
      '--user-agent',
      '--header',
      '--request',
      '--data',
      '--max-time',
      '--connect-timeout',
      '--retry',
      '--write-out',
    ]),
);

interface CurlRequest {
  url?: string;
  output?: string;
  writeOut?: string;
  /** Seconds. */
  maxTime?: number;
  connectTimeout?: number;
  fail: boolean;
  silent: boolean;
  showError: boolean;
}

function setValue(request: CurlRequest, option: string, value: string | undefined): void {
  if (value === undefined) return;
  if (option === 'o' || option === '--output') request.output = value;
  if (option === 'w' || option === '--write-out') request.writeOut = value;
  if (option === 'm' || option === '--max-time') request.maxTime = Number(value);
  if (option === '--connect-timeout') request.connectTimeout = Number(value);
}

function parseArgs(args: string[]): CurlRequest {
  const request: CurlRequest = { fail: false, silent: false, showError: false };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg.startsWith('--')) {
      if (arg === '--fail') request.fail = true;
      else if (arg === '--silent') request.silent = true;
      else if (arg === '--show-error') request.showError = true;
      else if (valued.has(arg)) setValue(request, arg, args[++index]);
    } else if (arg.startsWith('-') && arg.length > 1) {
      for (const [position, flag] of [...arg.slice(1)].entries()) {
        if (flag === 'f') request.fail = true;
        if (flag === 's') request.silent = true;
        if (flag === 'S') request.showError = true;
        if (!valued.has(flag)) continue;
        // The value is the rest of this argument, or the next one.
        setValue(request, flag, arg.slice(position + 2) || args[++index]);
        break;
      }
    } else {
      request.url = arg;
    }
  }
  return request;
}

/** The file a web server would send for `path`, or undefined (404). */
function servedFile(machine: GuestMachine, path: string): string | undefined {
  const resolved = posix.join(documentRoot, posix.normalize(decodeURIComponent(path)));
  const node = machine.fs.stat(resolved);
  if (node?.type === 'file') return resolved;
  if (node?.type !== 'dir') return undefined;
  return indexFiles.map((name) => posix.join(resolved, name)).find((file) => machine.fs.stat(file)?.type === 'file');
}

const notFound =
  '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n';

type Answer = { status: number; body: string; ip: string } | { error: number; message: string };

/** What a guest's web server answers (its document root), or the failure of a non-HTTP service. */
function fromGuestServer(
  machine: GuestMachine | undefined,
  url: URL,
  port: number,
  ip: string,
  sshPort: number,
): Answer {
  const serving = machine && webServers.some((name) => machine.services.get(name)?.active);
  if (url.protocol === 'https:') return { error: 35, message: 'error:0A00010B:SSL routines::wrong version number' };
  if (!serving || port !== 80) {
    return port === sshPort
      ? { error: 1, message: 'Received HTTP/0.9 when not allowed' }
      : { error: 52, message: 'Empty reply from server' };
  }
  const file = servedFile(machine, url.pathname);
  return file ? { status: 200, body: machine.fs.readFile(file).toString(), ip } : { status: 404, body: notFound, ip };
}

function outsidePage(url: URL, ip: string): Answer {
  const body = `<!doctype html>\n<html><head><title>${url.hostname}</title></head><body><h1>${url.hostname}</h1><p>A host on the simulated outside network (${ip}).</p></body></html>\n`;
  return { status: 200, body, ip };
}

async function remote(machine: GuestMachine, net: GuestNet, url: URL, request: CurlRequest): Promise<Answer> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const resolved = await net.resolve(host, machine);
  if ('error' in resolved) return { error: 6, message: `Could not resolve host: ${host}` };
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const verdict = net.probe({ proto: 'tcp', dst: resolved.ip, dport: port });
  const failed = (ms: number, reason: string): Answer => ({
    error: 7,
    message: `Failed to connect to ${host} port ${port} after ${Math.round(ms)} ms: ${reason}`,
  });
  if (verdict.outcome === 'open') {
    const peer = verdict.peer;
    if (peer?.kind === 'outside') return outsidePage(url, resolved.ip);
    if (peer?.kind === 'guest')
      return fromGuestServer(net.network.machine(peer.vmid), url, port, resolved.ip, net.network.sshPort);
    if (peer?.kind === 'local') return fromGuestServer(machine, url, port, resolved.ip, net.network.sshPort);
    return { error: 52, message: 'Empty reply from server' };
  }
  if (verdict.outcome === 'refused') return failed(0, "Couldn't connect to server");
  if (verdict.outcome === 'unreachable' && verdict.unreachable === 'network')
    return failed(0, 'Network is unreachable');
  // A router's "time exceeded" fails the connect at once.
  if (verdict.icmp?.type === 'time-exceeded') return failed(0, 'No route to host');
  const bound = Math.min(...[request.connectTimeout, request.maxTime].filter((s): s is number => s !== undefined));
  const limit = verdict.outcome === 'unreachable' ? netTimings.arpTimeout : netTimings.tcpConnectTimeout;
  if (Number.isFinite(bound) && bound * 1000 < limit) {
    await net.wait(bound * 1000);
    return { error: 28, message: `Connection timed out after ${Math.round(bound * 1000)} milliseconds` };
  }
  await net.wait(limit);
  if (verdict.outcome === 'unreachable') return failed(limit, 'No route to host');
  return { error: 28, message: `Failed to connect to ${host} port ${port} after ${limit} ms: Connection timed out` };
}

function local(machine: GuestMachine, url: URL): Answer {
  const serving = webServers.some((name) => machine.services.get(name)?.active);
  if (url.protocol !== 'http:' || !serving) {
    return {
      error: 7,
      message: `Failed to connect to ${url.hostname} port ${url.port || 80} after 0 ms: Couldn't connect to server`,
    };
  }
  const file = servedFile(machine, url.pathname);
  return file
    ? { status: 200, body: machine.fs.readFile(file).toString(), ip: '127.0.0.1' }
    : { status: 404, body: notFound, ip: '127.0.0.1' };
}

/** `-w` templates: `%{http_code}`, `%{remote_ip}`, `%{exitcode}` and `\n`. */
function writeOut(template: string, answer: Answer): string {
  const status = 'status' in answer ? String(answer.status) : '000';
  const ip = 'ip' in answer ? answer.ip : '';
  const exitcode = 'error' in answer ? String(answer.error) : '0';
  return template
    .replace(/%\{(http_code|response_code)\}/g, status)
    .replace(/%\{remote_ip\}/g, ip)
    .replace(/%\{exitcode\}/g, exitcode)
    .replace(/\\n/g, '\n');
}

export async function curl(
  machine: GuestMachine,
  { argv, shell }: Invocation,
  net?: GuestNet,
): Promise<CommandOutcome> {
  const request = parseArgs(argv.slice(1));
  const quietErrors = request.silent && !request.showError;
  if (!request.url)
    return { stderr: "curl: no URL specified!\ncurl: try 'curl --help' for more information\n", code: 2 };
  const url = URL.canParse(request.url) ? new URL(request.url) : new URL(`http://${request.url}`);
  const isLocal = localHosts.includes(url.hostname);
  let answer: Answer;
  if (isLocal) answer = local(machine, url);
  else if (net) answer = await remote(machine, net, url, request);
  else {
    answer = {
      error: 7,
      message: `Failed to connect to ${url.hostname} port ${url.port || 80} after 0 ms: Couldn't connect to server`,
    };
  }
  if ('status' in answer && answer.status >= 400 && request.fail) {
    answer = { error: 22, message: `The requested URL returned error: ${answer.status}` };
  }
  const written = request.writeOut ? writeOut(request.writeOut, answer) : '';
  if ('error' in answer) {
    return {
      stdout: written,
      stderr: quietErrors ? '' : `curl: (${answer.error}) ${answer.message}\n`,
      code: answer.error,
    };
  }
  if (!request.output) return { stdout: answer.body + written };
  if (request.output !== '/dev/null') shell.writeFile(request.output, answer.body);
  return { stdout: written };
}
