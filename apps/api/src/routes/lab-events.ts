import { getLab, getLabStatus, listEvents } from '@glassdome/db';
import { type Request, type Response, Router } from 'express';
import type { ApiContext } from '../context';
import { NotFoundError } from '../errors';
import { parseInput } from '../http/validate';
import { idParams, labEventsQuery } from '../schemas';

export interface LabEventStreamOptions {
  /** How often Postgres is asked for new events. @defaultValue 250 */
  pollMs?: number;
  /** How often a comment line keeps idle proxies from closing the stream. @defaultValue 15000 */
  keepAliveMs?: number;
}

function resumeAfter(req: Request): number {
  const query = parseInput(labEventsQuery, req.query, 'query');
  const header = req.get('last-event-id');
  const fromHeader = header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
  return fromHeader ?? query.lastEventId ?? 0;
}

/**
 * GET /labs/:id/events: replays the lab's timeline, then follows it by polling Postgres by event id.
 * Each event's SSE id is its row id, so `Last-Event-ID` resumes exactly; a `status` event is sent
 * whenever the lab's status changes.
 */
async function streamLabEvents(ctx: ApiContext, options: Required<LabEventStreamOptions>, req: Request, res: Response) {
  const { id } = parseInput(idParams, req.params, 'params');
  let afterId = resumeAfter(req);
  const lab = await getLab(ctx.db, id);
  if (!lab) throw new NotFoundError('lab');

  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  let status: string | undefined;
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), options.keepAliveMs);
  req.on('close', () => {
    open = false;
    clearInterval(keepAlive);
    clearTimeout(timer);
  });

  const poll = async () => {
    try {
      for (const event of await listEvents(ctx.db, { labId: id, afterId })) {
        afterId = event.id;
        const data = { id: event.id, at: event.at, kind: event.kind, message: event.message, vmId: event.vm_id };
        res.write(`id: ${event.id}\nevent: progress\ndata: ${JSON.stringify({ ...data, data: event.data })}\n\n`);
      }
      const current = await getLabStatus(ctx.db, id);
      if (current !== undefined && current !== status) {
        status = current;
        res.write(`event: status\ndata: ${JSON.stringify({ status })}\n\n`);
      }
    } catch (error) {
      req.log.warn({ err: error, labId: id }, 'lab event poll failed; will retry');
    }
    if (open) timer = setTimeout(poll, options.pollMs);
  };
  await poll();
}

export function labEventRoutes(ctx: ApiContext, options: LabEventStreamOptions = {}): Router {
  const resolved = { pollMs: options.pollMs ?? 250, keepAliveMs: options.keepAliveMs ?? 15_000 };
  const router = Router();
  router.get('/labs/:id/events', (req, res) => streamLabEvents(ctx, resolved, req, res));
  return router;
}
