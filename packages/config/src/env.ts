import type { z } from 'zod';

/** Raised when the environment does not satisfy a process's schema; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses `env` with `schema`. Empty strings count as unset, so `FOO=` falls back to the default.
 * Throws one ConfigError naming every bad or missing variable.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env = process.env): z.infer<S> {
  const cleaned: Env = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const message = issue.code === 'invalid_type' && cleaned[name] === undefined ? 'is required' : issue.message;
    return `${name} ${message}`;
  });
  throw new ConfigError(problems);
}

/**
 * Parses the process environment at start-up; on failure prints one line naming every problem and
 * exits with status 78 (EX_CONFIG), so a misconfigured process never half-starts.
 */
export function loadEnv<S extends z.ZodObject>(schema: S, processName: string): z.infer<S> {
  try {
    return parseEnv(schema, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${processName}: ${error.message}\n`);
    process.exit(78);
  }
}
