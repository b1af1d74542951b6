/**
 * A cheap liveness check of a guest's SSH daemon: connect and wait for its `SSH-` banner. No login, so
 * no key is needed and nothing changes on the guest; a hung or dead sshd fails it.
 */
import { connect } from 'node:net';
import { inLanes } from './lanes';

export interface ProbeTarget {
  id: string;
  host: string;
}

/** Resolves true when the banner arrives within `timeoutMs`. */
export function sshAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const finish = (answered: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.once('data', (chunk) => finish(chunk.toString('latin1').startsWith('SSH-')));
  });
}

/** Probes every target, `parallel` at a time; returns the ids whose SSH did not answer. */
export async function unreachableOverSsh(
  targets: readonly ProbeTarget[],
  options: { port: number; timeoutMs: number; parallel: number },
): Promise<Set<string>> {
  const dead = new Set<string>();
  await inLanes(targets, options.parallel, async (target) => {
    if (!(await sshAnswers(target.host, options.port, options.timeoutMs))) dead.add(target.id);
  });
  return dead;
}
