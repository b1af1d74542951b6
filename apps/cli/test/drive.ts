/** Runs the real `glassdome` command as a user would: a child process, through pipes or a pseudo-terminal. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from '@glassdome/testkit';

const bin = fileURLToPath(new URL('../bin/glassdome.js', import.meta.url));
// The command runs its bundle when that is up to date, else its sources through tsx (about 0.4 s more
// a run, and the tests run it a few hundred times): bring the bundle up to date first, as `pnpm build`
// would (a second when stale, milliseconds when fresh; once per test process).
ensureBuilt('cli');
const ptyDriver = fileURLToPath(new URL('./pty-drive.py', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A prompt to wait for on the screen and the keys to type when it shows. */
export interface PtyStep {
  wait: string;
  send: string;
}

function collect(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `glassdome …args` with stdout and stderr as pipes (not a terminal). */
export function glassdome(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 90_000): Promise<CliRun> {
  return collect(process.execPath, [bin, ...args], env, timeoutMs);
}

/** `glassdome …args` on a pseudo-terminal, typing each step's keys once its prompt shows; stdout is the screen. */
export function glassdomeInPty(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { steps?: PtyStep[]; interruptOn?: string; timeoutSeconds?: number } = {},
): Promise<CliRun> {
  const spec = {
    argv: [process.execPath, bin, ...args],
    env: { ...env, TERM: 'xterm-256color' },
    steps: options.steps ?? [],
    interrupt_on: options.interruptOn,
    timeout: options.timeoutSeconds ?? 90,
  };
  return collect('python3', [ptyDriver, JSON.stringify(spec)], process.env, (spec.timeout + 30) * 1000);
}

/** The screen as text: escape sequences and carriage returns removed. */
export function screenText(raw: string): string {
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]/g, '').replace(/\r/g, '');
}
