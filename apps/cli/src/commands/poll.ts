import type { ApiClient } from '../api-client';

/** How often `--wait` asks for a resource's state. */
const POLL_INTERVAL_MS = 500;

/** Asks for `path` until its `status` is one of `done`; answers the last body seen. */
export async function pollUntil<T extends { status: string }>(
  client: ApiClient,
  path: string,
  done: readonly string[],
  onChange?: (body: T) => void,
): Promise<T> {
  let last = '';
  for (;;) {
    const body = await client.call<T>('GET', path);
    if (body.status !== last) {
      last = body.status;
      onChange?.(body);
    }
    if (done.includes(body.status)) return body;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
