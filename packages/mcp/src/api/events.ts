/**
 * A lab's timeline from its Server-Sent Events stream (`GET /labs/:id/events`): the API replays the
 * events after an id, then a `status` event, then follows. Reading "up to now" stops at that first
 * status event; following keeps reading until aborted.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { GlassdomeApi } from './client';

export interface LabEvent {
  id: number;
  at: string;
  kind: string;
  message: string;
  vmId: string | null;
  data?: unknown;
}

export type LabStreamItem = { type: 'event'; event: LabEvent } | { type: 'status'; status: string };

function itemOf(message: EventSourceMessage): LabStreamItem | undefined {
  try {
    if (message.event === 'progress') return { type: 'event', event: JSON.parse(message.data) as LabEvent };
    if (message.event === 'status')
      return { type: 'status', status: (JSON.parse(message.data) as { status: string }).status };
  } catch {
    // A line the API never writes; skipped rather than ending the stream.
  }
  return undefined;
}

/** Reads the lab's stream, calling `onItem` for each event and status change, until `signal` aborts or the stream ends. */
export async function followLab(
  api: GlassdomeApi,
  labId: string,
  afterId: number,
  onItem: (item: LabStreamItem) => void,
  signal: AbortSignal,
): Promise<void> {
  const body = await api.labEventStream(labId, afterId, signal);
  const parser = createParser({
    onEvent: (message) => {
      const item = itemOf(message);
      if (item) onItem(item);
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal.aborted) return;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

/** Events the API replays per poll of its stream (packages/db listEvents' default page). */
const REPLAY_BATCH = 500;
/** Silence after which a long replay is taken as caught up (the API polls every 250 ms). */
const QUIET_MS = 750;

/**
 * The lab's events after `afterId` as the API holds them now (the replay before its first status
 * event), at most `limit` of the newest, and the lab's status.
 */
export async function labEventsUpToNow(
  api: GlassdomeApi,
  labId: string,
  options: { afterId?: number; limit?: number; timeoutMs?: number } = {},
): Promise<{ events: LabEvent[]; status: string | undefined }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
  const events: LabEvent[] = [];
  let status: string | undefined;
  // The API replays at most REPLAY_BATCH events per poll before its first status event; after a full
  // batch, more follow on the next polls, so reading goes on until the stream is quiet.
  let quiet: NodeJS.Timeout | undefined;
  const endWhenQuiet = () => {
    clearTimeout(quiet);
    quiet = setTimeout(() => controller.abort(), QUIET_MS);
  };
  try {
    await followLab(
      api,
      labId,
      options.afterId ?? 0,
      (item) => {
        if (item.type === 'event') {
          events.push(item.event);
          if (status !== undefined) endWhenQuiet();
        } else if (status === undefined) {
          status = item.status;
          if (events.length < REPLAY_BATCH) controller.abort();
          else endWhenQuiet();
        }
      },
      controller.signal,
    );
  } finally {
    clearTimeout(timer);
    clearTimeout(quiet);
  }
  const limit = options.limit ?? 200;
  return { events: events.slice(-limit), status };
}
