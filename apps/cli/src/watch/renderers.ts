import { MultiBar, type SingleBar } from 'cli-progress';
import type { CliIo } from '../context';
import { type LabView, type VmProgress, vmProgress } from './lab-view';

/** Shows a lab's progress as it changes; one for terminals, one for logs and pipes. */
export interface WatchRenderer {
  /** The lab as last read from the API. */
  update(lab: LabView): void;
  /** One progress event from the stream (already named after its VM when it has one). */
  event(at: string, text: string): void;
  stop(): void;
}

function clock(at: string): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? at : date.toISOString().slice(11, 19);
}

/** Not a terminal: one plain line per event, nothing redrawn, so logs read in order. */
export class LineRenderer implements WatchRenderer {
  constructor(private readonly io: CliIo) {}

  update(): void {}

  event(at: string, text: string): void {
    this.io.stdout.write(`${clock(at)} ${text}\n`);
  }

  stop(): void {}
}

/** A terminal: one live bar per VM with its current step, steps done, elapsed time and IP. */
export class BarRenderer implements WatchRenderer {
  private readonly bars = new Map<string, SingleBar>();
  private readonly multibar: MultiBar;
  private nameWidth = 8;

  constructor(io: CliIo) {
    this.multibar = new MultiBar({
      stream: io.stdout as NodeJS.WritableStream,
      format: '{name} {bar} {value}/{total} {elapsed}s  {step} {ip}',
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      fps: 5,
    });
  }

  update(lab: LabView): void {
    const rows = vmProgress(lab);
    this.nameWidth = Math.max(this.nameWidth, ...rows.map((row) => row.name.length));
    for (const row of rows) this.draw(row);
  }

  private draw(row: VmProgress): void {
    const payload = {
      name: row.name.padEnd(this.nameWidth),
      step: row.step,
      elapsed: row.elapsedSeconds,
      ip: row.ip ?? '',
    };
    const bar = this.bars.get(row.id);
    if (bar) {
      bar.setTotal(Math.max(row.stepsTotal, 1));
      bar.update(row.stepsDone, payload);
    } else {
      this.bars.set(row.id, this.multibar.create(Math.max(row.stepsTotal, 1), row.stepsDone, payload));
    }
  }

  event(): void {}

  stop(): void {
    this.multibar.stop();
  }
}
