import type { Producer } from '@glassdome/queue';
import type { Request } from 'express';
import { ServiceUnavailableError } from '../errors';

/** Refuses up front while the producer's Redis connection is down, so nothing gets written for nothing. */
export function requireRedis(producer: Producer): void {
  if (producer.connection.status !== 'ready') throw new ServiceUnavailableError('Redis');
}

/**
 * The second half of "commit, then enqueue": the request's rows are already committed when this
 * runs. If Redis refuses the job, `undo` removes or reverts what the request wrote, so no row is
 * left waiting for a job that does not exist, and the client gets 503 to retry. (Should the job have
 * reached Redis despite the error, its worker finds no row to act on and drops it.)
 */
export async function enqueueOrUndo(
  req: Request,
  enqueue: () => Promise<unknown>,
  undo: () => Promise<unknown>,
): Promise<void> {
  try {
    await enqueue();
  } catch (error) {
    req.log.warn({ err: error }, 'enqueue failed; undoing the request');
    await undo().catch((undoError: unknown) => req.log.error({ err: undoError }, 'undo after a failed enqueue failed'));
    throw new ServiceUnavailableError('Redis');
  }
}
