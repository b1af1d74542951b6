import type { CliIo } from './context';

/** A CliIo writing into strings, for tests that run the CLI in-process. */
export function captureIo(env: NodeJS.ProcessEnv = {}, options: { tty?: boolean } = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (stderr += text) },
    env: { HOME: '/nonexistent-home', ...env },
  };
  return { io, stdout: () => stdout, stderr: () => stderr };
}
