/**
 * Every error this package raises. Messages name the host, the program and what went wrong, never a
 * private key, a passphrase or a command's arguments (which may carry passwords): only argv[0] is named.
 */

/** Common base, so callers can catch every SSH failure at once and ask whether a retry may help. */
export abstract class SshError extends Error {
  /** True when the same call may succeed later (network blip, host still booting). */
  abstract readonly retryable: boolean;
}

/** TCP connection or SSH handshake failed, or an established connection dropped. */
export class SshConnectError extends SshError {
  override readonly name = 'SshConnectError';
  readonly retryable = true;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly reason: string,
  ) {
    super(`ssh ${host}:${port}: ${reason}`);
  }
}

/** The server refused every key we offered. */
export class SshAuthError extends SshError {
  override readonly name = 'SshAuthError';
  readonly retryable = false;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly username: string,
  ) {
    super(`ssh ${host}:${port}: authentication as ${username} failed (the server refused the key)`);
  }
}

/** The server presented a host key other than the pinned or previously trusted one. Never retried. */
export class HostKeyMismatchError extends SshError {
  override readonly name = 'HostKeyMismatchError';
  readonly retryable = false;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly expected: readonly string[],
    readonly received: string,
  ) {
    super(
      `ssh ${host}:${port}: HOST KEY MISMATCH, refusing to connect: expected ${expected.join(' or ')}, ` +
        `received ${received}. Someone may be intercepting the connection, or the host was reinstalled; ` +
        'if the new key is legitimate, update the pinned fingerprint or the trusted key recorded for this host.',
    );
  }
}

/** A connection, command or transfer did not finish in time; a timed-out command's channel is killed. */
export class SshTimeoutError extends SshError {
  override readonly name = 'SshTimeoutError';
  readonly retryable = true;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly what: string,
    readonly timeoutMs: number,
    detail?: string,
  ) {
    super(`ssh ${host}:${port}: ${what} timed out after ${timeoutMs} ms${detail ? ` (${detail})` : ''}`);
  }
}

/** How much of stderr a SshCommandError keeps: enough to explain, small enough to log. */
const STDERR_TAIL_CHARS = 2000;

/** A remote command ended with a non-zero exit code or was killed by a signal. */
export class SshCommandError extends SshError {
  override readonly name = 'SshCommandError';
  readonly retryable = false;
  /** The last part of the command's stderr. */
  readonly stderrTail: string;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly program: string,
    readonly exitCode: number | null,
    readonly signal: string | undefined,
    stderr: string,
    /** Full stdout of the command, for callers that parse partial output. */
    readonly stdout: string,
  ) {
    const tail = stderr.length > STDERR_TAIL_CHARS ? stderr.slice(-STDERR_TAIL_CHARS) : stderr;
    const ending = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${exitCode}`;
    const lastLine = tail.trimEnd().split('\n').at(-1);
    super(`ssh ${host}:${port}: ${program} ${ending}${lastLine ? `: ${lastLine}` : ''}`);
    this.stderrTail = tail;
  }
}

/** A command printed more than the configured buffer limit; it was killed. */
export class SshOutputLimitError extends SshError {
  override readonly name = 'SshOutputLimitError';
  readonly retryable = false;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly program: string,
    readonly limitBytes: number,
  ) {
    super(`ssh ${host}:${port}: ${program} printed more than ${limitBytes} bytes; the command was killed`);
  }
}

/** An SFTP upload or download failed. */
export class SshTransferError extends SshError {
  override readonly name = 'SshTransferError';
  readonly retryable = false;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly remotePath: string,
    readonly reason: string,
  ) {
    super(`ssh ${host}:${port}: transfer of ${remotePath} failed: ${reason}`);
  }
}

/** A private key could not be read or parsed (wrong format, missing or wrong passphrase). */
export class SshKeyError extends SshError {
  override readonly name = 'SshKeyError';
  readonly retryable = false;
}

/** The pool was closed; no new work is accepted. */
export class SshPoolClosedError extends SshError {
  override readonly name = 'SshPoolClosedError';
  readonly retryable = false;
  constructor() {
    super('the SSH pool is closed');
  }
}
