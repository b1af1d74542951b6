/**
 * Errors raised by API handlers. Their text is what real Proxmox VE puts in the HTTP status line
 * and (since libpve-http-server 5.2) in the body's `message`; see docs/proxmox.md, "Errors and how Glassdome classes them".
 */

/** Any handler error that becomes an HTTP answer with the given status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** 400 `Parameter verification failed.` with one message per bad parameter. */
export class ParameterError extends ApiError {
  constructor(errors: Record<string, string>) {
    super(400, 'Parameter verification failed.', errors);
    this.name = 'ParameterError';
  }
}

/** 403 `Permission check failed (<path>, <privs>)`. */
export class PermissionError extends ApiError {
  constructor(path?: string, privileges?: string[]) {
    super(403, path ? `Permission check failed (${path}, ${privileges?.join('|')})` : 'Permission check failed');
    this.name = 'PermissionError';
  }
}

/** 501 for a path or method the API does not have (PVE has no 404 for unknown API paths). */
export class NotImplementedError extends ApiError {
  constructor(method: string, path: string) {
    super(501, `Method '${method} ${path}' not implemented`);
    this.name = 'NotImplementedError';
  }
}

/** A flock that could not be taken in time: `can't lock file '<path>' - got timeout`. */
export class LockTimeoutError extends ApiError {
  constructor(readonly lockPath: string) {
    super(500, `can't lock file '${lockPath}' - got timeout`);
    this.name = 'LockTimeoutError';
  }
}

/** The plain-string failures PVE raises with `die "...\n"`: HTTP 500 with the text. */
export function fail(message: string): never {
  throw new ApiError(500, message);
}
