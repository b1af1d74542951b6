import { type FeedEvent, getLab, getLabForReader, listEvents, listLabEventPage, listVmsOfLab } from '@glassdome/db';
import { type Request, type Response, Router } from 'express';
import type { Principal } from '../auth/keys';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { NotFoundError, RetryLaterError } from '../errors';
import { parseInput } from '../http/validate';
import { type Redactor, redactorFor, seesPrivate } from '../redact';
import { idParams, labEventPageQuery, labEventsQuery } from '../schemas';

export interface LabEventStreamOptions {
  /** How often a comment line keeps idle proxies from closing the stream. @defaultValue 15000 */
  keepAliveMs?: number;
  /** Streams one API key may hold open at once (SSE_MAX_PER_KEY). @defaultValue 8 */
  maxPerKey?: number;
  /** Streams this process holds open at once (SSE_MAX_PER_PROCESS). @defaultValue 500 */
  maxPerProcess?: number;
  /**
   * A stream ends after this long (SSE_LIFETIME_SECONDS); the browser's EventSource reconnects with
   * `Last-Event-ID` and resumes exactly. @defaultValue 1800000 (30 min)
   */
  lifetimeMs?: number;
}

/** Replayed history is read in pages of this many events. */
const REPLAY_PAGE = 500;

function resumeAfter(req: Request): number {
  const query = parseInput(labEventsQuery, req.query, 'query');
  const header = req.get('last-event-id');
  const fromHeader = header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
  return fromHeader ?? query.lastEventId ?? 0;
}

/** Open streams, by key and in total: the bounds are checked before a stream is accepted. */
class StreamRegistry {
  private readonly byKey = new Map<string, number>();
  private total = 0;

  constructor(private readonly options: Required<LabEventStreamOptions>) {}

  /** Takes a slot for the key, or throws 429 (this key) / 503 (this process). Returns the release. */
  admit(keyId: string): () => void {
    if (this.total >= this.options.maxPerProcess) {
      throw new RetryLaterError(
        503,
        'too_many_streams',
        'this API holds the most event streams it may; retry later',
        5,
      );
    }
    const mine = this.byKey.get(keyId) ?? 0;
    if (mine >= this.options.maxPerKey) {
      throw new RetryLaterError(
        429,
        'too_many_streams',
        `this API key already holds ${mine} event streams (at most ${this.options.maxPerKey}); close one first`,
        5,
      );
    }
    this.byKey.set(keyId, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byKey.get(keyId) ?? 1) - 1;
      if (left === 0) this.byKey.delete(keyId);
      else this.byKey.set(keyId, left);
    };
  }
}

interface StreamView {
  redactor: Redactor;
  /** Private events (provisioning commands and output) go to admins and the lab's creator only. */
  privateToo: boolean;
  /** A trainee's copy: only events of these VMs. */
  vmIds: Set<string> | undefined;
}

function visible(view: StreamView, event: FeedEvent): boolean {
  if (event.private && !view.privateToo) return false;
  if (view.vmIds && (!event.vm_id || !view.vmIds.has(event.vm_id))) return false;
  return true;
}

/**
 * An event as clients see it, in the stream and in a JSON page alike; its time a Date (the feed) or
 * the text JSON prints for it (a page, listLabEventPage).
 */
function presentEvent(redactor: Redactor, event: Omit<FeedEvent, 'at'> & { at: Date | string }) {
  return {
    id: event.id,
    at: event.at,
    kind: event.kind,
    message: redactor.text(event.message),
    vmId: event.vm_id,
    data: redactor.json(event.data),
  };
}

function frame(view: StreamView, event: FeedEvent): string {
  return `id: ${event.id}\nevent: progress\ndata: ${JSON.stringify(presentEvent(view.redactor, event))}\n\n`;
}

/**
 * GET /labs/:id/events with `Accept: application/json`: one page of the lab's timeline, oldest
 * first, and the `nextCursor` of the page after it (keyset on the event id, the events_lab index).
 */
async function listLabEvents(ctx: ApiContext, req: Request, res: Response) {
  const { id } = parseInput(idParams, req.params, 'params');
  const query = parseInput(labEventPageQuery, req.query, 'query');
  const principal = req.principal!;
  const scope = scopeOf(req);
  const lab = await getLabForReader(ctx.db, id, scope);
  if (!lab) throw new NotFoundError('lab');
  const redactor = redactorFor(principal, lab.created_by, lab.spec);
  const page = await listLabEventPage(
    ctx.db,
    { labId: id, includePrivate: seesPrivate(principal, lab.created_by), ...query },
    scope,
  );
  res.json({
    items: page.items.map((event) => presentEvent(redactor, event)),
    limit: query.limit,
    nextCursor: page.nextCursor,
  });
}

async function streamView(
  ctx: ApiContext,
  principal: Principal,
  req: Request,
  lab: { id: string; created_by: string | null; spec: unknown },
) {
  const scope = scopeOf(req);
  const vmIds =
    scope.kind === 'copy' ? new Set((await listVmsOfLab(ctx.db, lab.id, scope)).map((vm) => vm.id)) : undefined;
  return {
    redactor: redactorFor(principal, lab.created_by, lab.spec),
    privateToo: seesPrivate(principal, lab.created_by),
    vmIds,
  };
}

/**
 * GET /labs/:id/events: replays the lab's timeline, then follows it through the process's shared
 * change feed (no polling per stream). Each event's SSE id is its row id, so `Last-Event-ID` resumes
 * exactly; a `status` event is sent whenever the lab's status changes. Bounded per key, per process
 * and in lifetime.
 */
async function streamLabEvents(
  ctx: ApiContext,
  registry: StreamRegistry,
  options: Required<LabEventStreamOptions>,
  req: Request,
  res: Response,
) {
  const { id } = parseInput(idParams, req.params, 'params');
  let afterId = resumeAfter(req);
  const principal = req.principal!;
  const scope = scopeOf(req);
  const lab = await getLab(ctx.db, id, scope);
  if (!lab) throw new NotFoundError('lab');
  const release = registry.admit(principal.keyId);
  const view = await streamView(ctx, principal, req, lab).catch((error: unknown) => {
    release();
    throw error;
  });

  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  let status: string | undefined;
  let replaying = true;
  const buffered: FeedEvent[] = [];
  const replayed = new Set<number>();
  const send = (event: FeedEvent) => {
    if (visible(view, event)) res.write(frame(view, event));
  };
  // History: pages after the resume point, in id order.
  const writeReplay = (events: FeedEvent[]) => {
    for (const event of events) {
      replayed.add(event.id);
      afterId = Math.max(afterId, event.id);
      send(event);
    }
  };
  // Live: whatever the feed hands over, each event once, in commit order, none the history held
  // (a notification may be read after the history that already had its event). Not filtered by
  // id: a transaction that took a lower id may commit after one that took a higher id.
  const writeLive = (events: FeedEvent[]) => {
    for (const event of events) if (!replayed.has(event.id)) send(event);
  };
  const sendStatus = (current: string) => {
    if (current === status) return;
    status = current;
    res.write(`event: status\ndata: ${JSON.stringify({ status })}\n\n`);
  };
  let closed = false;
  let unsubscribe = () => {};
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), options.keepAliveMs);
  const lifetime = setTimeout(() => {
    res.write('event: end\ndata: {"reason":"the stream reached its lifetime; reconnect with Last-Event-ID"}\n\n');
    res.end();
  }, options.lifetimeMs);
  lifetime.unref();
  const close = () => {
    closed = true;
    clearInterval(keepAlive);
    clearTimeout(lifetime);
    unsubscribe();
    release();
  };
  req.on('close', close);

  try {
    // Subscribed before the history is read: whatever commits after it arrives live.
    const subscribed = await ctx.feed.subscribe(id, {
      onEvents: (events) => (replaying ? buffered.push(...events) : writeLive(events)),
      onStatus: (current) => {
        if (!replaying) sendStatus(current);
      },
    });
    if (closed) {
      subscribed();
      return;
    }
    unsubscribe = subscribed;
    for (;;) {
      const page = await listEvents(
        ctx.db,
        { labId: id, afterId, limit: REPLAY_PAGE, includePrivate: view.privateToo },
        scope,
      );
      writeReplay(page);
      if (page.length < REPLAY_PAGE) break;
    }
    replaying = false;
    // Announced while the history was read: what the history did not already hold (nothing from
    // before the resume point).
    const resumeFrom = resumeAfter(req);
    writeLive(buffered.splice(0).filter((event) => event.id > resumeFrom));
    const current = await getLab(ctx.db, id, scope);
    if (current) sendStatus(current.status);
  } catch (error) {
    req.log.warn({ err: error, labId: id }, 'lab event replay failed; ending the stream');
    res.end();
  }
}

export function labEventRoutes(ctx: ApiContext, options: LabEventStreamOptions = {}): Router {
  const resolved: Required<LabEventStreamOptions> = {
    keepAliveMs: options.keepAliveMs ?? 15_000,
    maxPerKey: options.maxPerKey ?? 8,
    maxPerProcess: options.maxPerProcess ?? 500,
    lifetimeMs: options.lifetimeMs ?? 30 * 60_000,
  };
  const registry = new StreamRegistry(resolved);
  const router = Router();
  router.get('/labs/:id/events', (req, res) =>
    // EventSource asks for text/event-stream, curl for anything: both get the stream.
    req.accepts(['text/event-stream', 'application/json']) === 'application/json'
      ? listLabEvents(ctx, req, res)
      : streamLabEvents(ctx, registry, resolved, req, res),
  );
  return router;
}
