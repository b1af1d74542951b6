export { type CredentialReader, loadPrivateKeyFromStore, SSH_PRIVATE_KEY_KIND } from './credential-key';
export {
  HostKeyMismatchError,
  SshAuthError,
  SshCommandError,
  SshConnectError,
  SshError,
  SshKeyError,
  SshOutputLimitError,
  SshPoolClosedError,
  SshTimeoutError,
  SshTransferError,
} from './errors';
export type { ExecOptions, ExecResult } from './exec';
export { fingerprintOf, type HostKeyPolicy, type HostKeyStore, publicKeyLineFingerprint } from './host-key';
export { loadPrivateKey } from './keys';
export { type RunScriptOptions, SshPool, type SshPoolOptions } from './pool';
export { quoteArg, quoteArgv } from './quote';
export type { TransferOptions } from './sftp';
export { type InteractiveShell, openShell, type ShellOptions } from './shell';
export type { SshTarget } from './target';
export type { WaitForSshOptions } from './wait';
