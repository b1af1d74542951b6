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
  /**
   * Kills the command when it fires (as a timeout does) and rejects with the signal's reason, once
   * the remote process group is gone or a short grace has passed. @defaultValue none
   */
  signal?: AbortSignal;
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

/** Seconds the remote bound (timeout(1)) gives beyond ours, so that our own deadline fires first. */
const REMOTE_GRACE_SECONDS = 5;
/** The wrapper's first stderr line: the pid of the remote shell, which leads the command's process group. */
const PID_LINE = /(^|\n)glassdome-pid (\d+)\n/;
/** How much leading stderr is searched for that line before it is taken as plain output. */
const PID_SCAN_BYTES = 4096;

/**
 * The command as it is sent: the remote shell reports its pid on stderr (sshd made it a session and
 * process-group leader), then becomes timeout(1) running the command. So the command dies with its
 * bound even when we can no longer reach the host (our process or connection died), and we can kill
 * its whole process group on demand, which a channel signal cannot do for root: OpenSSH refuses
 * session signals there (no privilege separation for root sessions).
 */
export function killableCommand(command: string, timeoutMs: number): string {
  const seconds = Math.ceil(timeoutMs / 1000) + REMOTE_GRACE_SECONDS;
  return `echo "glassdome-pid $$" >&2; exec timeout -k 5 ${seconds} ${command}`;
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
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let gaveUp = false;
    const giveUp = (error: unknown) => {
      gaveUp = true;
      clearTimeout(openTimer);
      signal?.removeEventListener('abort', onAbort);
      reject(error);
    };
    const openTimer = setTimeout(
      () => giveUp(new SshTimeoutError(context.host, context.port, context.program, timeoutMs, 'no channel opened')),
      timeoutMs,
    );
    const onAbort = () => giveUp(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const started = (error: Error | undefined, channel: ClientChannel) => {
      clearTimeout(openTimer);
      signal?.removeEventListener('abort', onAbort);
      if (gaveUp) return channel?.close();
      if (error && isRequestRefusal(error)) {
        const reason = `the server refused to run ${context.program} (${error.message})`;
        return reject(new SshConnectError(context.host, context.port, reason));
      }
      if (error) return reject(new ChannelOpenError(error.message));
      keepUntilServerCloses(channel);
      superviseChannel(client, channel, context, options, deadline).then(resolve, reject);
      channel.end(options.stdin);
    };
    try {
      client.exec(killableCommand(command, timeoutMs), started);
    } catch (error) {
      clearTimeout(openTimer);
      signal?.removeEventListener('abort', onAbort);
      reject(notOpened(error));
    }
  });
}

/**
 * Node's streams destroy a channel once both its sides are done, and ssh2's Channel.destroy() ends the
 * writable side again, on which Node builds (and drops) an ERR_STREAM_ALREADY_FINISHED error with its
 * stack, at every command. Without auto-destroy the channel is closed as ssh2 closes it anyway: our
 * CHANNEL_CLOSE answers the server's (as it must), and 'close' is emitted then, as before.
 */
function keepUntilServerCloses(channel: ClientChannel): void {
  const states = channel as unknown as {
    _readableState: { autoDestroy: boolean };
    _writableState: { autoDestroy: boolean };
  };
  states._readableState.autoDestroy = false;
  states._writableState.autoDestroy = false;
}

/** How long killing a process group over a second channel may take before we stop waiting for it. */
const KILL_BOUND_MS = 5_000;

/**
 * Ends the process group `pid` leads over a fresh channel: TERM, then KILL a second later for
 * whatever ignored it. Works for root sessions, where a channel signal is refused. Never throws.
 */
function killProcessGroup(client: Client, pid: number): Promise<void> {
  const command = `kill -TERM -- -${pid} 2>/dev/null; sleep 1; kill -KILL -- -${pid} 2>/dev/null; true`;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, KILL_BOUND_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    try {
      client.exec(command, (error, channel) => {
        if (error) return done();
        channel.on('close', done);
        channel.resume();
        channel.stderr.resume();
        channel.end();
      });
    } catch {
      done();
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

/**
 * Watches an open channel until it closes, or kills the command at `deadline` (epoch ms) or when the
 * caller's signal fires: a channel signal (honoured for non-root sessions), the command's process
 * group killed over a second channel (root sessions too), then the channel closed.
 */
function superviseChannel(
  client: Client,
  channel: ClientChannel,
  context: CommandContext,
  options: ExecOptions,
  deadline: number,
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const limit = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
  const { signal } = options;
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let buffered = 0;
  let exit: { code: number | null; signal?: string } | undefined;
  let failure: unknown;
  let closed = false;
  // The wrapper's pid line, until it has been seen (or the first stderr line proved to be something else).
  let pidLine: Buffer | undefined = Buffer.alloc(0);
  let remotePid: number | undefined;
  let killing: Promise<void> | undefined;
  let killDone = false;
  const killGroup = () => {
    if (!killing && remotePid !== undefined && !closed) killing = killProcessGroup(client, remotePid);
    return killing ?? Promise.resolve();
  };

  return new Promise((resolve, reject) => {
    const abort = (error: unknown) => {
      if (failure) return;
      failure = error;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      killRemoteProcess(channel);
      // Once the group is dead sshd closes the channel; a command we could not kill (no pid yet, a
      // host that stopped answering) is cut off by closing our side after a grace.
      void killGroup().then(() => {
        killDone = true;
        if (closed) return reject(error);
        channel.close();
        setTimeout(() => reject(error), CLOSE_GRACE_MS).unref();
      });
    };
    const timer = setTimeout(
      () => abort(new SshTimeoutError(context.host, context.port, context.program, timeoutMs, 'command killed')),
      Math.max(0, deadline - Date.now()),
    );
    const onAbort = () => abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
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
    const collectStderr = collect(stderr, options.onStderr);
    channel.on('data', collect(stdout, options.onStdout));
    channel.stderr.on('data', (chunk: Buffer) => {
      if (pidLine === undefined) return collectStderr(chunk);
      // Held back until the wrapper's line shows (a login shell may warn before it), then dropped.
      pidLine = Buffer.concat([pidLine, chunk]);
      const text = pidLine.toString('latin1');
      const match = PID_LINE.exec(text);
      if (!match && pidLine.length < PID_SCAN_BYTES) return;
      const held = pidLine;
      pidLine = undefined;
      if (match) {
        remotePid = Number(match[2]);
        // Aborted before the pid was known: kill now that it is.
        if (failure) void killGroup();
      }
      const rest = match
        ? Buffer.concat([
            held.subarray(0, match.index + match[1]!.length),
            held.subarray(match.index + match[0].length),
          ])
        : held;
      if (rest.length > 0) collectStderr(rest);
    });
    channel.on('exit', (code: number | null, exitSignal?: string) => {
      exit = { code: code ?? null, ...(exitSignal ? { signal: exitSignal } : {}) };
    });
    channel.on('close', () => {
      closed = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (failure) {
        if (killDone) reject(failure);
        return;
      }
      if (!exit) {
        return reject(new SshConnectError(context.host, context.port, `connection lost while ${context.program} ran`));
      }
      // Stderr still held back for the wrapper's line (which never came) is the command's own.
      if (pidLine && pidLine.length > 0) stderr.push(pidLine);
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode: exit.code,
        ...(exit.signal ? { signal: exit.signal } : {}),
      });
    });
  });
}
