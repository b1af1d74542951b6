import { createRequire } from 'node:module';
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Every field that may carry a secret, at any depth we log. Redaction is configuration, not care:
 * a caller that logs a request, a config object or an error payload cannot leak these.
 */
export const secretKeys = [
  'password',
  'secret',
  'token',
  'tokenSecret',
  'apiKey',
  'privateKey',
  'passphrase',
  'cipassword',
  'authorization',
  'Authorization',
  'cookie',
  'PROXMOX_TOKEN_SECRET',
  'GLASSDOME_ADMIN_KEY',
  'GLASSDOME_SECRET_KEY',
] as const;

export const redactPaths = secretKeys.flatMap((key) => [
  key,
  `*.${key}`,
  `*.*.${key}`,
  `*.headers.${key}`,
  `*.*.headers.${key}`,
]);

const CENSOR = '[redacted]';

/**
 * A copy of `value` with every field named like a secret (secretKeys, plus `extraKeys`) replaced by
 * `[redacted]`, at any depth, arrays included: for logging user-given structures (tool arguments,
 * specs) whose nesting the fixed redact paths cannot foresee.
 */
export function redactSecrets(value: unknown, extraKeys: readonly string[] = []): unknown {
  const keys = new Set<string>([...secretKeys, ...extraKeys].map((key) => key.toLowerCase()));
  const walk = (item: unknown, depth: number): unknown => {
    if (item === null || typeof item !== 'object') return item;
    if (depth > 32) return CENSOR;
    if (Array.isArray(item)) return item.map((entry) => walk(entry, depth + 1));
    return Object.fromEntries(
      Object.entries(item as Record<string, unknown>).map(([key, entry]) => [
        key,
        keys.has(key.toLowerCase()) ? CENSOR : walk(entry, depth + 1),
      ]),
    );
  };
  return walk(value, 0);
}

export interface LoggerConfig {
  /** Process name, logged as `name`. */
  name: string;
  /** @defaultValue 'info' */
  level?: string;
  /** json or pretty; @defaultValue pretty on a terminal, json otherwise */
  format?: 'json' | 'pretty' | undefined;
  /** Where to write; @defaultValue stdout */
  destination?: NodeJS.WritableStream;
}

export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? 'info',
    redact: { paths: redactPaths, censor: CENSOR },
    serializers: { err: pino.stdSerializers.err },
  };
  const format = config.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (config.destination) return pino(options, config.destination as pino.DestinationStream);
  if (format === 'pretty') {
    // pino would look the transport up from its caller's file, which in a bundled app is the
    // bundle; resolved here, it is found wherever the code runs from.
    const target = createRequire(import.meta.url).resolve('pino-pretty');
    return pino({ ...options, transport: { target, options: { colorize: true } } });
  }
  return pino(options);
}
