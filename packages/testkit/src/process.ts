import { type ChildProcess, spawn } from 'node:child_process';

export interface RunningProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves once the output contains `text` (or matches it), rejects if the process exits first. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code once it is gone. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL at once, as a crash would. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts a TypeScript entry point (or any command) as a real child process, as a test's own. */
export function startProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; name?: string } = {},
): RunningProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    buffer += chunk.toString();
    if (buffer.length > 4_000_000) buffer = buffer.slice(-2_000_000);
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  exited.then(() => {
    done = true;
    for (const listener of listeners) listener();
  });
  const matches = (text: string | RegExp) => (typeof text === 'string' ? buffer.includes(text) : text.test(buffer));

  return {
    child,
    exited,
    output: () => buffer,
    waitForOutput(text, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `${options.name ?? command}: no "${text}" after ${timeoutMs} ms; output:\n${buffer.slice(-3000)}`,
            ),
          );
        }, timeoutMs);
        function check() {
          if (matches(text)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          } else if (done) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`${options.name ?? command} exited before "${text}"; output:\n${buffer.slice(-3000)}`));
          }
        }
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (done) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (done) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
