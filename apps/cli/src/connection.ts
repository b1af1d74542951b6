import type { ConfigFile } from './config-file';
import { UsageError } from './errors';

/** Where the API is when nothing says otherwise: `pnpm start`'s default port. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8001';

export interface ConnectionFlags {
  apiUrl?: string;
  apiKey?: string;
}

export interface ApiConnection {
  apiUrl: string;
  apiKey: string;
}

/** URL and key, each from the first of: flag, environment (GLASSDOME_URL / GLASSDOME_API_KEY), config file. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, config: ConfigFile): ApiConnection {
  const apiUrl = flags.apiUrl ?? env.GLASSDOME_URL ?? config.api?.url ?? DEFAULT_API_URL;
  if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol)) {
    throw new UsageError(`api url: ${JSON.stringify(apiUrl)} is not an http(s) URL`);
  }
  const apiKey = flags.apiKey ?? env.GLASSDOME_API_KEY ?? config.api?.key;
  if (!apiKey) {
    throw new UsageError('no API key: pass --api-key, set GLASSDOME_API_KEY, or run `glassdome setup`');
  }
  return { apiUrl: apiUrl.replace(/\/+$/, ''), apiKey };
}
