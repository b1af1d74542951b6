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

export interface ProcessOptions {
  /** Variables on top of this process's own environment (LOG_FORMAT defaults to json). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Names the process in errors. @defaultValue the command */
  name?: string;
  /** Called with every complete line the process prints (stdout and stderr), e.g. to show its logs. */
  onLine?: (line: string) => void;
}

/** Starts a command (a TypeScript entry point under tsx, or anything else) as a child process it owns. */
export function startProcess(command: string, args: string[], options: ProcessOptions = {}): RunningProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  const listeners = new Set<() => void>();
  const pending = { stdout: '', stderr: '' };
  const splitLines = (stream: 'stdout' | 'stderr', text: string) => {
    const lines = (pending[stream] + text).split('\n');
    pending[stream] = lines.pop() ?? '';
    for (const line of lines) options.onLine?.(line);
  };
  const append = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString();
    buffer += text;
    if (buffer.length > 4_000_000) buffer = buffer.slice(-2_000_000);
    if (options.onLine) splitLines(stream, text);
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', append('stdout'));
  child.stderr?.on('data', append('stderr'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  exited.then(() => {
    done = true;
    for (const rest of [pending.stdout, pending.stderr]) if (rest && options.onLine) options.onLine(rest);
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
