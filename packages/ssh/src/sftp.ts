import type { Client, SFTPWrapper } from 'ssh2';
import { SshTimeoutError, SshTransferError } from './errors';
import { ChannelOpenError, type CommandContext, isRequestRefusal, notOpened } from './exec';

/** Options of an SFTP upload or download. */
export interface TransferOptions {
  /** Time allowed for the whole transfer; the SFTP channel is closed when it passes. @defaultValue 600000 (10 minutes) */
  timeoutMs?: number;
  /** Closes the SFTP channel when it fires and rejects with its reason. @defaultValue none */
  signal?: AbortSignal;
}

export const DEFAULT_TRANSFER_TIMEOUT_MS = 600_000;

/** Where a transfer goes, for error messages. */
type TransferContext = Omit<CommandContext, 'program'> & { remotePath: string };

/** Runs `work` on a fresh SFTP channel of `client`, closing the channel however it ends. */
export function withSftp<T>(
  client: Client,
  context: TransferContext,
  options: TransferOptions,
  work: (sftp: SFTPWrapper) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS;
  const fail = (reason: unknown) =>
    new SshTransferError(context.host, context.port, context.remotePath, describe(reason));
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const started = (error: Error | undefined, sftp: SFTPWrapper) => {
      if (error) return reject(isRequestRefusal(error) ? fail(error) : new ChannelOpenError(error.message));
      const stop = (reason: unknown) => {
        reject(reason);
        sftp.end();
      };
      const timer = setTimeout(
        () => stop(new SshTimeoutError(context.host, context.port, `transfer of ${context.remotePath}`, timeoutMs)),
        timeoutMs,
      );
      const onAbort = () => stop(signal?.reason);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      work(sftp)
        .then(resolve, (reason: unknown) => reject(signal?.aborted ? signal.reason : fail(reason)))
        .finally(() => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          sftp.end();
        });
    };
    try {
      client.sftp(started);
    } catch (error) {
      reject(notOpened(error));
    }
  });
}

/** SFTP status errors carry a short server text ("No such file", "Permission denied"), safe to show. */
function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/** Promisified SFTP calls used by the pool; each resolves when the server has confirmed the step. */
export const sftpCalls = {
  writeFile: (sftp: SFTPWrapper, path: string, data: Buffer, mode: number) =>
    new Promise<void>((resolve, reject) => sftp.writeFile(path, data, { mode }, (e) => (e ? reject(e) : resolve()))),
  fastPut: (sftp: SFTPWrapper, local: string, path: string, mode: number) =>
    new Promise<void>((resolve, reject) => sftp.fastPut(local, path, { mode }, (e) => (e ? reject(e) : resolve()))),
  // writeFile/fastPut apply the mode only when they create the file; chmod makes it hold for existing files.
  chmod: (sftp: SFTPWrapper, path: string, mode: number) =>
    new Promise<void>((resolve, reject) => sftp.chmod(path, mode, (e) => (e ? reject(e) : resolve()))),
  readFile: (sftp: SFTPWrapper, path: string) =>
    new Promise<Buffer>((resolve, reject) => sftp.readFile(path, (e, data) => (e ? reject(e) : resolve(data)))),
  fastGet: (sftp: SFTPWrapper, path: string, local: string) =>
    new Promise<void>((resolve, reject) => sftp.fastGet(path, local, (e) => (e ? reject(e) : resolve()))),
};
