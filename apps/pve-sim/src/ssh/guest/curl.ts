/**
 * `curl` inside a guest. A guest cannot reach the network, but it can ask itself: a request to
 * 127.0.0.1/localhost is answered from the document root when a web server (Apache, nginx,
 * lighttpd) is running, the file served as it lies on disk (no PHP runs). Anything else fails to
 * connect, as it would on an isolated lab network with nothing listening.
 */
import { posix } from 'node:path';
import type { CommandOutcome, Invocation } from '../shell/interpreter';
import type { GuestMachine } from './guest-machine';

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
  fail: boolean;
  silent: boolean;
  showError: boolean;
}

function parseArgs(args: string[]): CurlRequest {
  const request: CurlRequest = { fail: false, silent: false, showError: false };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg.startsWith('--')) {
      if (arg === '--fail') request.fail = true;
      else if (arg === '--silent') request.silent = true;
      else if (arg === '--show-error') request.showError = true;
      else if (arg === '--output') request.output = args[++index];
      else if (valued.has(arg)) index++;
    } else if (arg.startsWith('-') && arg.length > 1) {
      for (const [position, flag] of [...arg.slice(1)].entries()) {
        if (flag === 'f') request.fail = true;
        if (flag === 's') request.silent = true;
        if (flag === 'S') request.showError = true;
        if (!valued.has(flag)) continue;
        // The value is the rest of this argument, or the next one.
        const value = arg.slice(position + 2) || args[++index];
        if (flag === 'o') request.output = value;
        break;
      }
    } else {
      request.url = arg;
    }
  }
  return request;
}

/** The file a local web server would send for `path`, or undefined (404). */
function servedFile(machine: GuestMachine, path: string): string | undefined {
  const resolved = posix.join(documentRoot, posix.normalize(decodeURIComponent(path)));
  const node = machine.fs.stat(resolved);
  if (node?.type === 'file') return resolved;
  if (node?.type !== 'dir') return undefined;
  return indexFiles.map((name) => posix.join(resolved, name)).find((file) => machine.fs.stat(file)?.type === 'file');
}

export function curl(machine: GuestMachine, { argv, shell }: Invocation): CommandOutcome {
  const request = parseArgs(argv.slice(1));
  const quietErrors = request.silent && !request.showError;
  const failure = (code: number, message: string): CommandOutcome => ({
    stderr: quietErrors ? '' : `curl: (${code}) ${message}\n`,
    code,
  });
  if (!request.url)
    return { stderr: "curl: no URL specified!\ncurl: try 'curl --help' for more information\n", code: 2 };
  const url = URL.canParse(request.url) ? new URL(request.url) : new URL(`http://${request.url}`);
  const serving = webServers.some((name) => machine.services.get(name)?.active);
  if (!localHosts.includes(url.hostname) || url.protocol !== 'http:' || !serving) {
    return failure(
      7,
      `Failed to connect to ${url.hostname} port ${url.port || 80} after 0 ms: Couldn't connect to server`,
    );
  }
  const file = servedFile(machine, url.pathname);
  if (!file && request.fail) return failure(22, 'The requested URL returned error: 404');
  const body = file
    ? machine.fs.readFile(file).toString()
    : '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n';
  if (!request.output) return { stdout: body };
  if (request.output !== '/dev/null') shell.writeFile(request.output, body);
  return {};
}
