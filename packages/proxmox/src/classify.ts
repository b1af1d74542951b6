/**
 * The one place that reads Proxmox's wording. Rules follow PVE 8's handlers (see
 * docs/proxmox.md, "Errors and how Glassdome classes them" and "Locks"): most domain errors are HTTP 500 with a plain-text reason, 4xx
 * carry either a status-line reason (≤ 8.2) or a JSON `message` (≥ 8.3), parameter errors an `errors` map.
 */
import {
  AgentNotConfiguredError,
  AgentNotReadyError,
  AlreadyExistsError,
  AuthenticationError,
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  PermissionError,
  ProxmoxError,
  type ProxmoxErrorDetails,
  TransientError,
  VmNotRunningError,
} from './errors';

export interface FailedAnswer {
  status: number;
  /** The HTTP reason phrase; PVE puts the first line of its message there. */
  statusText: string;
  /** Parsed JSON body, or whatever arrived (401s have none). */
  body: unknown;
  /** `GET /nodes/pve/qemu` style, for the error message. */
  request?: string;
}

/** AnyEvent::HTTP pseudo-statuses from pveproxy's proxying: 595 means nothing reached the backend. */
const proxyStatuses = new Set([595, 596, 597, 598, 599]);
const gatewayStatuses = new Set([502, 503, 504]);

const patterns = {
  // Only `(<ACL path>, <privilege>)` names both; `(user != root@pam)` and `(pool 'x' …)` name neither.
  permission: /Permission check failed \((\/[^,)]*), ([^)]+)\)/,
  agentNotConfigured: /No QEMU guest agent configured/i,
  agentNotReady: /guest agent (?:is )?not (?:running|available|ready)/i,
  vmNotRunning: /VM \d+ (?:is )?not running/,
  // The last: a clone's worker writing the new VM's config at an id pmxcfs lists for a guest on another
  // node (PVE::Tools::file_set_contents renaming its temporary file onto `<vmid>.conf`).
  alreadyExists:
    /already exists|already used|config file already exists|atomic file '[^']*\/\d+\.conf' failed: File exists/i,
  notFound:
    /does not exist|hostname lookup '[^']*' failed|no such (?:task|storage|cluster node|user|token|vm|pool|role)|not found/i,
  lockBusy: /got timeout|got lock request timeout|can't lock file|VM is locked|got no worker upid|lock .* busy/i,
  invalidRequest:
    /SSH public key validation error|no options specified|not allowed for linked clones|requires special syntax|invalid (?:format|privilege|ACL path)/i,
  conflict:
    /you can't|can't (?:remove|convert|clone|start)|cannot shutdown|protection mode|feature is not supported|is running - destroy failed|contains snapshots|still in use|reserved name|already running/i,
} as const;

/** Proxmox's text for a failed answer: JSON `message` when present, else the status line. */
export function messageOf(answer: Pick<FailedAnswer, 'statusText' | 'body'>): string {
  const body = answer.body as { message?: unknown } | null | undefined;
  const fromBody = typeof body?.message === 'string' ? body.message.trim() : '';
  return fromBody || answer.statusText.trim();
}

/** The `errors` map of a parameter failure, values trimmed; empty when there is none. */
export function fieldErrorsOf(body: unknown): Record<string, string> {
  const errors = (body as { errors?: unknown } | null | undefined)?.errors;
  if (!errors || typeof errors !== 'object') return {};
  return Object.fromEntries(Object.entries(errors).map(([key, value]) => [key, String(value).trim()]));
}

/** Turns a non-2xx answer into the matching named error. */
export function classifyAnswer(answer: FailedAnswer): ProxmoxError {
  const pveMessage = messageOf(answer);
  const fieldErrors = fieldErrorsOf(answer.body);
  const details: ProxmoxErrorDetails = { status: answer.status, pveMessage, fieldErrors, request: answer.request };
  const fieldText = Object.entries(fieldErrors)
    .map(([key, value]) => `${key}: ${value}`)
    .join('; ');
  const text = [pveMessage, fieldText].filter(Boolean).join(' — ');
  const message = `${answer.request ?? 'Proxmox request'} failed with ${answer.status}: ${text || 'no message'}`;

  if (answer.status === 401) return new AuthenticationError(message, details);
  if (answer.status === 403) {
    const match = patterns.permission.exec(pveMessage);
    return new PermissionError(message, { ...details, path: match?.[1], privilege: match?.[2] });
  }
  if (proxyStatuses.has(answer.status) || gatewayStatuses.has(answer.status)) {
    // 595 is a failed connect to the backend; later pseudo-statuses may follow a delivered request.
    return new TransientError(message, { ...details, maybeApplied: answer.status !== 595 });
  }
  if (answer.status === 404) return new NotFoundError(message, details);
  return classifyText(text, message, details);
}

/**
 * Classifies by wording alone: used for 4xx/5xx answers and for a failed task's exit status, which
 * has the same vocabulary (`clone failed: can't lock file … got timeout`).
 */
export function classifyText(text: string, message: string, details: ProxmoxErrorDetails): ProxmoxError {
  const status = details.status;
  if (patterns.agentNotConfigured.test(text)) return new AgentNotConfiguredError(message, details);
  if (patterns.agentNotReady.test(text)) return new AgentNotReadyError(message, details);
  if (patterns.vmNotRunning.test(text)) return new VmNotRunningError(message, details);
  if (patterns.alreadyExists.test(text)) return new AlreadyExistsError(message, details);
  if (patterns.notFound.test(text)) return new NotFoundError(message, details);
  if (patterns.lockBusy.test(text)) return new TransientError(message, details);
  if (patterns.invalidRequest.test(text)) return new InvalidParameterError(message, details);
  if (patterns.conflict.test(text)) return new ConflictError(message, details);
  if (status === 400 || (status === undefined && Object.keys(details.fieldErrors ?? {}).length > 0)) {
    return new InvalidParameterError(message, details);
  }
  // 501 is PVE's answer for an unknown path or a body on GET/DELETE: a client bug, never transient.
  if (status === undefined || (status >= 500 && status !== 501)) return new TransientError(message, details);
  return new ProxmoxError(message, details);
}
