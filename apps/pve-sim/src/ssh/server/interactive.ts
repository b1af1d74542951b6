/**
 * An interactive login (`ssh root@node` without a command): a prompt, a minimal line editor (echo,
 * backspace, Ctrl-C, Ctrl-D) and each line run by the same mini-shell as `exec` channels.
 */
import type { ServerChannel } from 'ssh2';
import { KILLED_STATUS, type Shell } from '../shell/interpreter';

export interface InteractiveOptions {
  /** Host name shown in the prompt. */
  hostname: string;
  /** Whether the client asked for a terminal (then input is echoed and newlines become CRLF). */
  pty: boolean;
  /** Told about every line run and its status. */
  onLine?(line: string, code: number): void;
  /** Fires when the session's commands are killed (a channel signal, or the channel closed). */
  signal?: AbortSignal;
  /** The name of the channel signal that killed the session, if one did. */
  killedBy?(): string | undefined;
}

/** Runs the session on `channel`; resolves when it has ended (its exit sent, or its channel gone). */
export function runInteractive(channel: ServerChannel, shell: Shell, options: InteractiveOptions): Promise<void> {
  const newline = options.pty ? '\r\n' : '\n';
  const out = (text: string) => {
    if (channel.writable) channel.write(options.pty ? text.replace(/\r?\n/g, '\r\n') : text);
  };
  const prompt = () => {
    const where = shell.cwd === shell.env.HOME ? '~' : shell.cwd;
    out(`${shell.user}@${options.hostname}:${where}${shell.user === 'root' ? '#' : '$'} `);
  };
  let buffer = '';
  let busy = Promise.resolve();
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const finish = (code: number) => {
    ended();
    if (!channel.writable) return;
    // A shell a channel signal killed ends by it, and sshd reports exit-signal, not a status.
    const signalName = options.killedBy?.();
    if (signalName) channel.exit(signalName, false, '');
    else channel.exit(code);
    channel.end();
  };
  const runLine = async (line: string) => {
    const code = await shell.run(line, { stdout: out, stderr: out, stdin: async () => '', signal: options.signal });
    options.onLine?.(line, code);
    if (/^\s*exit(\s|;|$)/.test(line)) finish(code);
    else prompt();
  };
  channel.on('data', (chunk: Buffer) => {
    for (const char of chunk.toString()) {
      if (char === '\r' || char === '\n') {
        const line = buffer;
        buffer = '';
        if (options.pty) out(newline);
        busy = busy.then(() => runLine(line));
      } else if (char === '\u0003') {
        buffer = '';
        out(`^C${newline}`);
        prompt();
      } else if (char === '\u0004' && buffer === '') {
        busy = busy.then(() => finish(0));
      } else if (char === '\u007f' || char === '\b') {
        if (buffer.length > 0 && options.pty) out('\b \b');
        buffer = buffer.slice(0, -1);
      } else {
        buffer += char;
        if (options.pty) out(char);
      }
    }
  });
  // Killed (a channel signal, or the channel closed): the line running stops, and so does the session.
  options.signal?.addEventListener('abort', () => {
    busy = busy.then(() => finish(KILLED_STATUS));
  });
  // EOF ends the session once the lines typed before it have run.
  channel.on('end', () => {
    busy = busy.then(() => finish(0));
  });
  prompt();
  return done;
}
