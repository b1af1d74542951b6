import { ApiRequestError, CliError, ExitCode, type ExitCodeValue, type FieldProblem } from './errors';

/** More problems than this are counted, not listed: the message must stay one readable line. */
const MAX_LISTED_PROBLEMS = 3;

/** `vms.1.os: must be one of …; name: is required (and 2 more)`: field problems as one line. */
export function formatProblems(problems: readonly FieldProblem[]): string {
  const listed = problems
    .slice(0, MAX_LISTED_PROBLEMS)
    .map((problem) => (problem.path ? `${problem.path}: ${problem.message}` : problem.message));
  const more = problems.length - listed.length;
  return `${listed.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

/** Collapses whitespace so a multi-line message from anywhere still prints as one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The single line the CLI prints for an error, and the exit code that goes with it. */
export function describeError(error: unknown): { line: string; exitCode: ExitCodeValue } {
  if (error instanceof ApiRequestError) {
    const problems = error.details.length > 0 ? `: ${formatProblems(error.details)}` : '';
    return {
      line: oneLine(`error: ${error.message}${problems} (HTTP ${error.status} ${error.code})`),
      exitCode: error.exitCode,
    };
  }
  if (error instanceof CliError) return { line: oneLine(`error: ${error.message}`), exitCode: error.exitCode };
  // Anything else is a bug of ours: still one line, and "failed", never mistaken for bad input.
  const message = error instanceof Error ? error.message : String(error);
  return { line: oneLine(`error: ${message}`), exitCode: ExitCode.failed };
}
