/**
 * `--watch`: follows a lab's Server-Sent Events until it settles, redrawing each VM's progress. The
 * stream only says that something happened; the lab itself is re-read to draw it, so a missed or
 * coalesced event never leaves the screen wrong. Ctrl-C detaches and leaves the lab deploying.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import type { ApiClient } from '../api-client';
import type { CliContext } from '../context';
import { WorkFailedError } from '../errors';
import { type Column, renderTable } from '../table';
import { LAB_FINAL_STATES, type LabView, type VmProgress, vmLabel, vmProgress } from './lab-view';
import { BarRenderer, LineRenderer, type WatchRenderer } from './renderers';
import { readServerSentEvents } from './sse';

/** Pause before reopening a stream the server closed while the lab was still moving. */
const RECONNECT_DELAY_MS = 1_000;
/** How often the bars' elapsed time ticks between events. */
const TICK_MS = 1_000;

const SUMMARY_COLUMNS: Column<VmProgress>[] = [
  { header: 'vm', cell: (row) => row.name },
  { header: 'status', cell: (row) => row.status },
  { header: 'ip', cell: (row) => row.ip },
  { header: 'took', cell: (row) => `${row.elapsedSeconds}s` },
];

interface ProgressData {
  at?: string;
  message?: string;
  vmId?: string | null;
}

class LabWatch {
  private lab: LabView;
  private lastEventId: string | undefined;
  private settled = false;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private readonly detach = new AbortController();

  constructor(
    private readonly client: ApiClient,
    initial: LabView,
    private readonly renderer: WatchRenderer,
  ) {
    this.lab = initial;
    this.settled = LAB_FINAL_STATES.includes(initial.status);
  }

  get detached(): boolean {
    return this.detach.signal.aborted;
  }

  stopWatching(): void {
    this.detach.abort();
  }

  /** Follows the stream (reopening it where it left off) until the lab settles or the user detaches. */
  async run(): Promise<LabView> {
    this.renderer.update(this.lab);
    const ticker = setInterval(() => this.renderer.update(this.lab), TICK_MS);
    try {
      while (!this.settled && !this.detached) {
        await this.follow();
        if (!this.settled && !this.detached) await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
      }
      await this.refresh();
      return this.lab;
    } finally {
      clearInterval(ticker);
      this.renderer.stop();
    }
  }

  private async follow(): Promise<void> {
    const streamDone = new AbortController();
    const signal = AbortSignal.any([this.detach.signal, streamDone.signal]);
    try {
      const response = await this.client.stream(`/labs/${this.lab.id}/events`, {
        signal,
        lastEventId: this.lastEventId,
      });
      if (!response.body) return;
      await readServerSentEvents(response.body, (event) => this.onEvent(event, streamDone), signal);
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  private onEvent(event: EventSourceMessage, streamDone: AbortController): void {
    if (event.id) this.lastEventId = event.id;
    const data = JSON.parse(event.data) as ProgressData & { status?: string };
    if (event.event === 'status' && data.status) {
      if (LAB_FINAL_STATES.includes(data.status)) {
        this.settled = true;
        streamDone.abort();
      }
      return;
    }
    const vm = this.lab.vms.find((candidate) => candidate.id === data.vmId);
    this.renderer.event(
      data.at ?? new Date().toISOString(),
      `${vm ? vmLabel(this.lab, vm) : 'lab'}: ${data.message ?? event.event}`,
    );
    void this.refresh().catch(() => undefined);
  }

  /** Re-reads the lab; calls arriving meanwhile fold into one more read once this one is done. */
  private async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        this.lab = await this.client.call<LabView>('GET', `/labs/${this.lab.id}`);
        this.renderer.update(this.lab);
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }
}

/** Prints every VM's outcome and IP; a lab that did not end ready is failed work (exit 1). */
function reportOutcome(ctx: CliContext, lab: LabView): void {
  ctx.print();
  for (const line of renderTable(vmProgress(lab), SUMMARY_COLUMNS)) ctx.print(line);
  ctx.print(`lab ${lab.name} ${lab.status} (${lab.id})`);
  if (lab.status !== 'ready')
    throw new WorkFailedError(
      `lab ${lab.name} ended ${lab.status}: ${lab.error ?? `see glassdome lab show ${lab.id}`}`,
    );
}

/** Watches a lab until it settles (exit 1 unless ready) or the user detaches with Ctrl-C (exit 0, lab untouched). */
export async function watchLab(ctx: CliContext, client: ApiClient, labId: string, json: boolean): Promise<void> {
  const initial = await client.call<LabView>('GET', `/labs/${labId}`);
  const silent: WatchRenderer = { update() {}, event() {}, stop() {} };
  const renderer = json ? silent : ctx.isTty ? new BarRenderer(ctx.io) : new LineRenderer(ctx.io);
  const watch = new LabWatch(client, initial, renderer);
  const onInterrupt = () => watch.stopWatching();
  process.once('SIGINT', onInterrupt);
  let lab: LabView;
  try {
    lab = await watch.run();
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
  if (watch.detached) {
    ctx.note(
      `detached: lab ${lab.name} keeps deploying (${lab.status}); follow it again with \`glassdome lab watch ${lab.id}\`, stop it with \`glassdome lab cancel ${lab.id}\``,
    );
    return;
  }
  if (json) {
    ctx.printJson(lab);
    if (lab.status !== 'ready') throw new WorkFailedError(`lab ${lab.name} ended ${lab.status}`);
    return;
  }
  reportOutcome(ctx, lab);
}
