/**
 * Every failure this package reports is one of these classes, decided once in `classify.ts`, so callers
 * branch on `instanceof` and `retryable` instead of reading Proxmox's wording. Messages carry the request
 * (method and path, never its parameters) and Proxmox's own text, which the client scrubs of secrets.
 */

export interface ProxmoxErrorDetails {
  /** HTTP status, or undefined when no answer arrived (network error, timeout). */
  status?: number | undefined;
  /** Proxmox's message: the body's `message` (PVE ≥ 8.3) or else the HTTP status text. */
  pveMessage?: string | undefined;
  /** Per-parameter messages from the body's `errors` map. */
  fieldErrors?: Record<string, string> | undefined;
  /** `GET /nodes/pve/qemu` style: what was asked, without parameters. */
  request?: string | undefined;
}

export class ProxmoxError extends Error {
  /** Whether repeating the same call later may succeed. */
  readonly retryable: boolean = false;
  readonly status: number | undefined;
  readonly pveMessage: string | undefined;
  readonly fieldErrors: Record<string, string>;
  readonly request: string | undefined;

  constructor(message: string, details: ProxmoxErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.status = details.status;
    this.pveMessage = details.pveMessage;
    this.fieldErrors = details.fieldErrors ?? {};
    this.request = details.request;
  }
}

/**
 * Worth repeating: 5xx without a known permanent cause, proxy pseudo-statuses 595–599, lock timeouts,
 * locked VMs, network failures. `maybeApplied` is true when the request may have reached Proxmox before
 * the failure (a timed-out or cut-off answer), so repeating a non-idempotent call could do it twice.
 */
export class TransientError extends ProxmoxError {
  override readonly retryable = true;
  readonly maybeApplied: boolean;

  constructor(message: string, details: ProxmoxErrorDetails & { maybeApplied?: boolean } = {}) {
    super(message, details);
    this.maybeApplied = details.maybeApplied ?? false;
  }
}

/** 401: the token or ticket was refused. Never retried (Proxmox delays every refusal by 3 s). */
export class AuthenticationError extends ProxmoxError {}

/** 403, with the ACL path and privilege Proxmox named, when it named them. */
export class PermissionError extends ProxmoxError {
  readonly path: string | undefined;
  readonly privilege: string | undefined;

  constructor(message: string, details: ProxmoxErrorDetails & { path?: string; privilege?: string } = {}) {
    super(message, details);
    this.path = details.path;
    this.privilege = details.privilege;
  }
}

/** The VM, node, storage, task, user, snapshot… does not exist. */
export class NotFoundError extends ProxmoxError {}

/** A VMID, user, token, role, snapshot name… is already taken. */
export class AlreadyExistsError extends ProxmoxError {}

/** Proxmox rejected the parameters; `fieldErrors` says which and why. */
export class InvalidParameterError extends ProxmoxError {}

/** The operation is impossible in the object's present state (a template, running, protected…). */
export class ConflictError extends ProxmoxError {}

/** The VM is stopped and the operation needs it running (reboot, guest agent calls). */
export class VmNotRunningError extends ConflictError {}

/** The guest agent is configured but not answering yet (the guest is still booting). */
export class AgentNotReadyError extends TransientError {}

/** The VM has no `agent` key in its config: waiting cannot help, the template is wrong. */
export class AgentNotConfiguredError extends ProxmoxError {}

/** The server's certificate does not match the pinned fingerprint or is not signed by the given CA. */
export class TlsVerificationError extends ProxmoxError {}

/** Something did not happen within the caller's deadline (a task, the guest agent's address). */
export class DeadlineExceededError extends ProxmoxError {}

/**
 * A task was accepted (HTTP 200 + UPID) and then ended in error. `reason` is the exit status classified
 * like a synchronous error, so `reason instanceof AlreadyExistsError` or `retryable` can be read directly.
 */
export class TaskFailedError extends ProxmoxError {
  readonly upid: string;
  readonly exitstatus: string;
  readonly reason: ProxmoxError;
  override readonly retryable: boolean;

  constructor(upid: string, exitstatus: string, reason: ProxmoxError) {
    super(`task ${upid} failed: ${exitstatus}`, { pveMessage: exitstatus, fieldErrors: reason.fieldErrors });
    this.upid = upid;
    this.exitstatus = exitstatus;
    this.reason = reason;
    this.retryable = reason.retryable;
  }
}

/** No VMID could be leased in the configured range. */
export class VmidExhaustedError extends ProxmoxError {}

/** A clone or node slot was not granted within the admission timeout. */
export class AdmissionTimeoutError extends ProxmoxError {
  override readonly retryable = true;
}

/** Every VLAN tag of the configured range is leased. */
export class VlanExhaustedError extends ProxmoxError {}
