import type { HostKeyStore } from '@glassdome/ssh';
import {
  newSshKeyPair,
  type RunningStack,
  type StackOptions,
  startIsolatedStack,
  type TestSimulator,
  waitFor,
} from '@glassdome/testkit';

export interface Harness {
  sim: TestSimulator;
  databaseUrl: string;
  /** The stack's Redis and queue prefix (to look at, or write into, its queues directly). */
  redis: { url: string; prefix: string };
  stack: RunningStack;
  /** A user's key pair, as a trainee would bring it. */
  userKey: { privateKey: string; publicKey: string };
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  waitForVm(id: string, statuses: string[], timeoutMs?: number): Promise<Record<string, unknown>>;
  /**
   * The lab once it reaches one of `statuses`, as `GET /labs/:id` shows it; by default once it has
   * settled (`ready`, `failed` or `degraded`).
   */
  waitForLab(id: string, timeoutMs?: number, statuses?: readonly string[]): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Simulator + database + Redis prefix + the Glassdome processes, all this test file's own. */
export async function startHarness(
  options: Partial<StackOptions> = {},
  simEnv: Record<string, string> = {},
): Promise<Harness> {
  const { sim, database, redis, stack, stop } = await startIsolatedStack(
    {
      ...options,
      // Simulated guests answer within milliseconds of their agent: a guest that does not is a
      // failure to retry soon, not something to wait three minutes for.
      env: { SSH_TIMEOUT_SECONDS: '20', ...options.env },
    },
    simEnv,
  );
  const userKey = newSshKeyPair('trainee@class');
  const api: Harness['api'] = async (method, path, body) => {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${stack.adminKey}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  };
  return {
    sim,
    databaseUrl: database.url,
    redis: { url: redis.url, prefix: redis.prefix },
    stack,
    userKey,
    api,
    waitForVm: (id, statuses, timeoutMs = 90_000) =>
      waitFor(
        `VM ${id} to reach ${statuses.join('|')}`,
        async () => {
          const { body } = await api('GET', `/api/v1/vms/${id}`);
          return statuses.includes(String(body.status)) ? body : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      ),
    waitForLab: (id, timeoutMs = 120_000, statuses = ['ready', 'failed', 'degraded']) =>
      waitFor(
        `lab ${id} to reach ${statuses.join('|')}`,
        async () => {
          const { body } = await api('GET', `/api/v1/labs/${id}`);
          return statuses.includes(String(body.status)) ? body : undefined;
        },
        { timeoutMs, intervalMs: 250 },
      ),
    stop,
  };
}

/** Trust-on-first-use in memory: what a test's own SSH client needs for a guest it has never seen. */
export function memoryHostKeys(): HostKeyStore {
  const known = new Map<string, string>();
  return {
    async get(host, port) {
      return known.get(`${host}:${port}`);
    },
    async trust(host, port, fingerprint) {
      const key = `${host}:${port}`;
      if (!known.has(key)) known.set(key, fingerprint);
      return known.get(key)!;
    },
  };
}
