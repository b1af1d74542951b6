import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Every field that may carry a secret, at any depth we log. Redaction is configuration, not care:
 * a caller that logs a request, a config object or an error payload cannot leak these.
 */
export const redactPaths = [
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
].flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.headers.${key}`, `*.*.headers.${key}`]);

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
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  const format = config.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (config.destination) return pino(options, config.destination as pino.DestinationStream);
  if (format === 'pretty') {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}
