import { createRequire } from 'node:module';
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Every field that may carry a secret, at any depth we log. Redaction is configuration, not care:
 * a caller that logs a request, a config object or an error payload cannot leak these. Names match
 * whatever their case.
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
  'cookie',
  'PROXMOX_TOKEN_SECRET',
  'GLASSDOME_ADMIN_KEY',
  'GLASSDOME_SECRET_KEY',
] as const;

const CENSOR = '[redacted]';
const SECRET_NAMES: ReadonlySet<string> = new Set(secretKeys.map((key) => key.toLowerCase()));
/** Deeper than this a structure is replaced whole, so nothing below it is written unlooked at. */
const MAX_DEPTH = 32;

/**
 * `value` with every field whose lower-cased name is in `names` replaced by `[redacted]`, at any
 * depth, arrays and errors' own fields included. Copy on write: a structure without such a field
 * comes back as it is (no allocation), and the original is never changed. A reference back to an
 * enclosing object becomes `[Circular]` (left in, it would take the writer back to the original).
 */
function scrub(value: unknown, names: ReadonlySet<string>, depth: number, enclosing: object[]): unknown {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (depth > MAX_DEPTH) return CENSOR;
  if (enclosing.includes(value)) return '[Circular]';
  enclosing.push(value);
  let copy: unknown;
  if (Array.isArray(value)) {
    let items: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const clean = scrub(item, names, depth + 1, enclosing);
      if (clean !== item) {
        items ??= value.slice();
        items[index] = clean;
      }
    }
    copy = items;
  } else {
    const record = value as Record<string, unknown>;
    let fields: Record<string, unknown> | undefined;
    for (const key of Object.keys(record)) {
      const item = record[key];
      const clean =
        item !== undefined && names.has(key.toLowerCase()) ? CENSOR : scrub(item, names, depth + 1, enclosing);
      if (clean !== item) {
        fields ??= { ...record };
        fields[key] = clean;
      }
    }
    copy = fields;
  }
  enclosing.pop();
  return copy ?? value;
}

/**
 * `value` with every field named like a secret (secretKeys, plus `extraKeys`) replaced by
 * `[redacted]`, at any depth, arrays included: for logging user-given structures (tool arguments,
 * specs) beside a field name of their own.
 */
export function redactSecrets(value: unknown, extraKeys: readonly string[] = []): unknown {
  const names =
    extraKeys.length === 0 ? SECRET_NAMES : new Set([...SECRET_NAMES, ...extraKeys.map((key) => key.toLowerCase())]);
  return scrub(value, names, 0, []);
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

/**
 * Secrets are taken out of every line's fields, its error and its child bindings by `redactSecrets`'s
 * walk rather than pino's `redact` paths: those (13 names at five depths, with wildcards) made pino
 * copy and check every field of every line, about 65 us a line against about 1 us for the walk.
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? 'info',
    // A line's fields before pino writes them; its `err` after the error serializer made it a plain
    // object (walking the Error itself would hand the serializer a copy that is no longer one).
    formatters: {
      log: (fields) => {
        if (fields.err === undefined) return redactSecrets(fields) as Record<string, unknown>;
        const { err, ...rest } = fields;
        const clean = redactSecrets(rest) as Record<string, unknown>;
        return clean === rest ? fields : { ...clean, err };
      },
    },
    serializers: { err: (error) => redactSecrets(pino.stdSerializers.err(error)) },
  };
  const format = config.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const logger = config.destination
    ? pino(options, config.destination as pino.DestinationStream)
    : format === 'pretty'
      ? // pino would look the transport up from its caller's file, which in a bundled app is the
        // bundle; resolved here, it is found wherever the code runs from.
        pino({
          ...options,
          transport: { target: createRequire(import.meta.url).resolve('pino-pretty'), options: { colorize: true } },
        })
      : pino(options);
  // A child's bindings are written once, when it is made, past the log formatter; every child (and
  // its children) inherits this `child` from the root.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings) as typeof bindings, childOptions);
  } as typeof logger.child;
  return logger;
}
