import type { Producer } from '@glassdome/queue';
import type { Request } from 'express';
import type { ApiContext } from '../context';
import { ServiceUnavailableError } from '../errors';

/** Refuses up front while the producer's Redis connection is down, so nothing gets written for nothing. */
export function requireRedis(producer: Producer): void {
  if (producer.connection.status !== 'ready') throw new ServiceUnavailableError('Redis');
}

/**
 * After the commit that wrote a request's intent to the outbox: send it to BullMQ now — the rows
 * `committed` when the caller knows them (no relay pass, see OutboxRelay.sendCommitted), else a relay
 * pass. The intent is durable, so a refusal here is only logged — the relay sends it on its next pass.
 */
export async function relayNow(
  ctx: ApiContext,
  req: Request,
  committed?: { id: number; intent: unknown }[],
): Promise<void> {
  await (committed ? ctx.relay.sendCommitted(committed) : ctx.relay.flush()).catch((error: unknown) => {
    req.log.warn({ err: error }, 'intent kept in the outbox; the relay sends it on its next pass');
  });
}

/**
 * "Commit, then enqueue" for requests that do not go through the outbox (template builds, grants):
 * if Redis refuses the job, `undo` removes what the request wrote and the client gets 503.
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
