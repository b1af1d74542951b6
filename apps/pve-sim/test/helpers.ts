/** Starts an in-process simulator on a free port (plain HTTP, fast time scale) and speaks its API. */
import { type RunningSimulator, type StartOptions, startSimulator } from '../src/index';

export interface ApiAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  /** Parsed JSON body, or undefined for an empty body. */
  body: { data?: unknown; errors?: Record<string, string>; message?: string; total?: number } | undefined;
  text: string;
}

export interface TestSim {
  running: RunningSimulator;
  tokenAuth: string;
  /** Calls /api2/json with the deploy token (or `auth`); params go to the query for GET/DELETE, the form body otherwise. */
  api(
    method: string,
    path: string,
    params?: Record<string, string>,
    auth?: string | Record<string, string>,
  ): Promise<ApiAnswer>;
  /** Polls a task's status until it stops; returns its exit status. */
  waitTask(upid: unknown, auth?: string | Record<string, string>): Promise<string>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  rootAuth(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Latencies short enough for tests, with the same proportions as the real ones. */
export const fastScale = 0.01;

export async function startTestSim(options: StartOptions = {}): Promise<TestSim> {
  const running = await startSimulator({
    port: 0,
    tls: false,
    timeScale: fastScale,
    rootPassword: 'root-secret-pw',
    ...options,
  });
  const tokenAuth = `PVEAPIToken=${running.tokenId}=${running.tokenSecret}`;
  const api: TestSim['api'] = async (method, path, params = {}, auth = tokenAuth) => {
    const query = method === 'GET' || method === 'DELETE';
    const url = new URL(`${running.apiUrl}/api2/json${path}`);
    if (query) for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
    const headers: Record<string, string> = typeof auth === 'string' ? { Authorization: auth } : { ...auth };
    const init: RequestInit = { method, headers };
    if (!query && Object.keys(params).length > 0) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = new URLSearchParams(params).toString();
    }
    const res = await fetch(url, init);
    const text = await res.text();
    return {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
      text,
      body: text ? JSON.parse(text) : undefined,
    };
  };
  const sim: TestSim = {
    running,
    tokenAuth,
    api,
    async waitTask(upid, auth = tokenAuth) {
      const node = String(upid).split(':')[1];
      for (;;) {
        const answer = await api('GET', `/nodes/${node}/tasks/${encodeURIComponent(String(upid))}/status`, {}, auth);
        const data = answer.body?.data as { status: string; exitstatus?: string } | undefined;
        if (answer.status !== 200) throw new Error(`task status ${answer.status} ${answer.statusText}`);
        if (data?.status === 'stopped') return data.exitstatus ?? '';
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async admin(method, path, body) {
      const res = await fetch(`${running.adminUrl}${path}`, {
        method,
        headers: { Authorization: `Bearer ${running.adminSecret}`, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: await res.json() };
    },
    async rootAuth() {
      const answer = await api('POST', '/access/ticket', { username: 'root@pam', password: running.rootPassword }, {});
      const data = answer.body?.data as { ticket: string; CSRFPreventionToken: string };
      return {
        Cookie: `PVEAuthCookie=${encodeURIComponent(data.ticket)}`,
        CSRFPreventionToken: data.CSRFPreventionToken,
      };
    },
    stop: () => running.stop(),
  };
  return sim;
}

/** Clones the template into `newid` with the deploy token and waits for the task. */
export async function cloneTemplate(sim: TestSim, newid: number, params: Record<string, string> = {}): Promise<string> {
  const answer = await sim.api('POST', `/nodes/pve01/qemu/9000/clone`, { newid: String(newid), ...params });
  if (answer.status !== 200) throw new Error(`clone: ${answer.status} ${answer.statusText}`);
  return sim.waitTask(answer.body?.data);
}
