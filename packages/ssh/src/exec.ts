import type { Client, ClientChannel } from 'ssh2';
import { SshConnectError, SshOutputLimitError, SshTimeoutError } from './errors';

/** Options of one remote command. */
export interface ExecOptions {
  /** Time allowed for the command; when it passes the remote process is sent SIGKILL and its channel closed. @defaultValue 300000 (5 minutes) */
  timeoutMs?: number;
  /** Receives stdout as it arrives (in addition to the buffered result). @defaultValue none */
  onStdout?: (chunk: Buffer) => void;
  /** Receives stderr as it arrives (in addition to the buffered result). @defaultValue none */
  onStderr?: (chunk: Buffer) => void;
  /** Written to the command's stdin, which is then closed. @defaultValue empty stdin (closed at once) */
  stdin?: string | Buffer;
  /** Environment for the command, passed through env(1). @defaultValue none */
  env?: Record<string, string>;
  /** Resolve with the result on a non-zero exit instead of throwing SshCommandError. @defaultValue false */
  allowFailure?: boolean;
  /** Most bytes of stdout plus stderr kept in memory; beyond it the command is killed. @defaultValue 67108864 (64 MiB) */
  maxBufferBytes?: number;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 300_000;
export const DEFAULT_MAX_BUFFER_BYTES = 64 * 1024 * 1024;

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status, or null when the command was ended by a signal. */
  exitCode: number | null;
  /** Name of the signal that ended the command (`SIGKILL`), when one did. */
  signal?: string;
}

/** Identifies the command in errors: host, port and only the program name, never its arguments. */
export interface CommandContext {
  host: string;
  port: number;
  program: string;
}

/** The channel could not be opened; nothing ran, so the pool may safely retry on a fresh connection. */
export class ChannelOpenError extends Error {
  override readonly name = 'ChannelOpenError';
}

/** ssh2 throws "Not connected" at once when the socket has already gone: no channel was opened either. */
export function notOpened(error: unknown): ChannelOpenError {
  return new ChannelOpenError(error instanceof Error ? error.message : String(error));
}

/**
 * ssh2 words a request the server refused on an open channel (exec, subsystem) as "Unable to …"; any
 * other failure before the channel is ready means it never opened (connection gone, open refused).
 */
export function isRequestRefusal(error: Error): boolean {
  return error.message.startsWith('Unable to');
}

/**
 * Runs one already-quoted command on an open connection, streaming and buffering its output. The
 * timeout covers opening the channel too: on a connection that stopped answering, the open would
 * otherwise wait until keepalives give up.
 */
export function runCommand(
  client: Client,
  command: string,
  context: CommandContext,
  options: ExecOptions,
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let gaveUp = false;
    const openTimer = setTimeout(() => {
      gaveUp = true;
      reject(new SshTimeoutError(context.host, context.port, context.program, timeoutMs, 'no channel opened'));
    }, timeoutMs);
    const started = (error: Error | undefined, channel: ClientChannel) => {
      clearTimeout(openTimer);
      if (gaveUp) return channel?.close();
      if (error && isRequestRefusal(error)) {
        const reason = `the server refused to run ${context.program} (${error.message})`;
        return reject(new SshConnectError(context.host, context.port, reason));
      }
      if (error) return reject(new ChannelOpenError(error.message));
      superviseChannel(channel, context, options, deadline).then(resolve, reject);
      channel.end(options.stdin);
    };
    try {
      client.exec(command, started);
    } catch (error) {
      clearTimeout(openTimer);
      reject(notOpened(error));
    }
  });
}

/** How long an aborted command's channel may take to close before the caller is answered anyway. */
const CLOSE_GRACE_MS = 2000;

/**
 * Asks sshd to SIGKILL the command's process group, so that a command which neither writes nor reads
 * does not outlive its timeout. OpenSSH honours this only for sessions running under privilege
 * separation, i.e. not for root logins; there, closing the channel ends the command when it next writes.
 * ssh2's public channel.signal() sends nothing once our side has ended (stdin is ended at once), so the
 * request goes through the channel's protocol handle.
 */
function killRemoteProcess(channel: ClientChannel): void {
  const internals = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(channelId: number, signal: string): void } };
  };
  if (internals.outgoing && internals.outgoing.state !== 'closed')
    internals._client?._protocol?.signal(internals.outgoing.id, 'KILL');
}

/** Watches an open channel until it closes, or kills the command at `deadline` (epoch ms). */
function superviseChannel(
  channel: ClientChannel,
  context: CommandContext,
  options: ExecOptions,
  deadline: number,
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const limit = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let buffered = 0;
  let exit: { code: number | null; signal?: string } | undefined;
  let failure: Error | undefined;

  return new Promise((resolve, reject) => {
    const abort = (error: Error) => {
      if (failure) return;
      failure = error;
      killRemoteProcess(channel);
      channel.close();
      // A server that ignores the signal only confirms the close once the command ends by itself.
      setTimeout(() => reject(error), CLOSE_GRACE_MS).unref();
    };
    const timer = setTimeout(
      () => abort(new SshTimeoutError(context.host, context.port, context.program, timeoutMs, 'command killed')),
      Math.max(0, deadline - Date.now()),
    );
    const collect = (sink: Buffer[], callback: ((chunk: Buffer) => void) | undefined) => (chunk: Buffer) => {
      if (failure) return;
      buffered += chunk.length;
      if (buffered > limit) return abort(new SshOutputLimitError(context.host, context.port, context.program, limit));
      sink.push(chunk);
      try {
        callback?.(chunk);
      } catch (error) {
        abort(error instanceof Error ? error : new Error(String(error)));
      }
    };
    channel.on('data', collect(stdout, options.onStdout));
    channel.stderr.on('data', collect(stderr, options.onStderr));
    channel.on('exit', (code: number | null, signal?: string) => {
      exit = { code: code ?? null, ...(signal ? { signal } : {}) };
    });
    channel.on('close', () => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (!exit) {
        return reject(new SshConnectError(context.host, context.port, `connection lost while ${context.program} ran`));
      }
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode: exit.code,
        ...(exit.signal ? { signal: exit.signal } : {}),
      });
    });
  });
}
