/** What the process exit code tells a script: the only contract a shell pipeline can rely on. */
export const ExitCode = {
  ok: 0,
  /** The work was accepted but did not succeed (a lab ended failed, a check failed, a conflict). */
  failed: 1,
  /** The command line or an input file is wrong; running it again unchanged will not help. */
  usage: 2,
  /** The API could not be reached at all. */
  unreachable: 3,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A problem the CLI reports as one line and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad flags, arguments, config or input files: exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** Work that ended badly (a failed lab, a failed check): exit 1. */
export class WorkFailedError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.failed);
    this.name = 'WorkFailedError';
  }
}

/** The API did not answer at all (refused, unknown host, timed out): exit 3. */
export class ApiUnreachableError extends CliError {
  constructor(
    readonly apiUrl: string,
    readonly reason: string,
  ) {
    super(
      `cannot reach the API at ${apiUrl} (${reason}); is it running? check --api-url or GLASSDOME_URL`,
      ExitCode.unreachable,
    );
    this.name = 'ApiUnreachableError';
  }
}

/** One failing field of a rejected request, as the API reports it. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** Statuses that mean the request itself was wrong, so retrying it unchanged cannot succeed. */
const CLIENT_MISTAKES = new Set([400, 401, 403, 404, 405, 413, 415, 422]);

/** The API answered with an error envelope `{"error": {code, message, details?}}`. */
export class ApiRequestError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message, CLIENT_MISTAKES.has(status) ? ExitCode.usage : ExitCode.failed);
    this.name = 'ApiRequestError';
  }
}
