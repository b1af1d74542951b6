import type { ClientChannel } from 'ssh2';
import { openConnection } from './connection';
import type { SshTarget } from './target';

/** Size and behaviour of an interactive shell. */
export interface ShellOptions {
  /** Terminal columns. @defaultValue 80 */
  cols?: number;
  /** Terminal rows. @defaultValue 24 */
  rows?: number;
  /** Terminal type announced to the server. @defaultValue 'xterm-256color' */
  term?: string;
  /** Time allowed to connect, verify the host key and authenticate. @defaultValue 15000 */
  connectTimeoutMs?: number;
}

/** An interactive login shell on its own connection (never pooled: it lives as long as a person keeps it). */
export interface InteractiveShell {
  /** The shell's terminal: write keystrokes to it, read its output from 'data'. */
  channel: ClientChannel;
  resize(cols: number, rows: number): void;
  /** Ends the shell and its connection. */
  close(): void;
  /** Resolves once the connection is gone, whoever ended it. */
  closed: Promise<void>;
}

/**
 * Opens a PTY shell on the target, with its host key checked by the target's policy before
 * authentication (the same check every other connection makes).
 */
export async function openShell(target: SshTarget, options: ShellOptions = {}): Promise<InteractiveShell> {
  const client = await openConnection(target, {
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    keepaliveIntervalMs: 15_000,
  });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const channel = await new Promise<ClientChannel>((resolve, reject) => {
    client.shell(
      { term: options.term ?? 'xterm-256color', cols: options.cols ?? 80, rows: options.rows ?? 24 },
      (error, stream) => (error ? reject(error) : resolve(stream)),
    );
  }).catch((error: unknown) => {
    client.end();
    throw error;
  });
  channel.once('close', () => client.end());
  return {
    channel,
    resize: (cols, rows) => channel.setWindow(rows, cols, 0, 0),
    close: () => {
      channel.close();
      client.end();
    },
    closed,
  };
}
