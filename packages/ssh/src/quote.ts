/**
 * POSIX shell quoting for commands sent over SSH. The remote side hands our command string to the
 * user's login shell (`$SHELL -c "<string>"`), so every argument is wrapped in single quotes, inside
 * which a POSIX shell expands nothing; a single quote itself is closed, escaped and reopened ('\'').
 * Written here rather than taken from a library because the rule is four lines and must be exactly this.
 */

/** Quotes one argument so that the remote shell passes it through as a single literal word. */
export function quoteArg(arg: string): string {
  // A NUL byte cannot be part of an argv entry: the remote exec would silently cut the argument there.
  if (arg.includes('\0')) throw new TypeError('an SSH command argument cannot contain a NUL byte');
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Joins argv into one command string in which each element arrives as exactly one literal argument. */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('an SSH command needs at least a program name');
  return argv.map(quoteArg).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Prefixes argv with `env NAME=value …`: sshd drops environment requests not listed in its AcceptEnv,
 * whereas env(1) works on every host, and the values stay quoted like any other argument.
 */
export function withEnv(argv: readonly string[], env: Readonly<Record<string, string>> | undefined): string[] {
  const entries = Object.entries(env ?? {});
  if (entries.length === 0) return [...argv];
  for (const [name] of entries) {
    if (!ENV_NAME.test(name)) throw new TypeError(`invalid environment variable name: ${JSON.stringify(name)}`);
  }
  return ['env', ...entries.map(([name, value]) => `${name}=${value}`), ...argv];
}
