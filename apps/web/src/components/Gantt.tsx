import type { Step } from '../api/types';
import styles from './Gantt.module.css';

export interface GanttRow {
  label: string;
  steps: Step[];
}

/** Each VM's steps on one time axis: a thin line while queued, a bar from start to finish. */
export function Gantt({ rows, now = Date.now() }: { rows: GanttRow[]; now?: number }) {
  const times = rows.flatMap((row) =>
    row.steps.flatMap((step) =>
      [step.queuedAt, step.startedAt, step.finishedAt].filter(Boolean).map((t) => Date.parse(t!)),
    ),
  );
  if (times.length === 0) return <p className="muted">No step has started yet.</p>;
  const start = Math.min(...times);
  const end = Math.max(now, ...times);
  const span = Math.max(1, end - start);
  const pct = (t: number) => `${((t - start) / span) * 100}%`;
  const width = (a: number, b: number) => `${Math.max(0.3, ((b - a) / span) * 100)}%`;
  return (
    <div>
      <div className={styles.legend} aria-hidden="true">
        <span style={{ '--swatch': '#31455e' } as React.CSSProperties}>queued</span>
        <span style={{ '--swatch': 'var(--info)' } as React.CSSProperties}>running</span>
        <span style={{ '--swatch': 'var(--ok)' } as React.CSSProperties}>done</span>
        <span style={{ '--swatch': 'var(--danger)' } as React.CSSProperties}>failed</span>
      </div>
      <div className={styles.gantt}>
        {rows.map((row) => (
          <div key={row.label} style={{ display: 'contents' }}>
            <div>{row.label}</div>
            <div className={styles.track} data-testid={`gantt-row-${row.label}`}>
              {row.steps.map((step) => {
                const queued = step.queuedAt ? Date.parse(step.queuedAt) : undefined;
                const started = step.startedAt ? Date.parse(step.startedAt) : undefined;
                const finished = step.finishedAt ? Date.parse(step.finishedAt) : undefined;
                const title = `${step.name}: ${step.status}${step.durationMs !== undefined ? ` in ${(step.durationMs / 1000).toFixed(1)}s` : ''}${step.error ? ` — ${step.error}` : ''}`;
                return (
                  <span key={step.name}>
                    {queued !== undefined && started !== undefined && started > queued && (
                      <span
                        className={`${styles.bar} ${styles.queued}`}
                        style={{ left: pct(queued), width: width(queued, started) }}
                      />
                    )}
                    {started !== undefined && (
                      <span
                        className={`${styles.bar} ${styles[step.status] ?? styles.running}`}
                        style={{ left: pct(started), width: width(started, finished ?? now) }}
                        title={title}
                      >
                        <span className="visually-hidden">{title}</span>
                      </span>
                    )}
                  </span>
                );
              })}
            </div>
          </div>
        ))}
        <div className={styles.axis} aria-hidden="true">
          <span>0s</span>
          <span>{((end - start) / 2000).toFixed(0)}s</span>
          <span>{((end - start) / 1000).toFixed(0)}s</span>
        </div>
      </div>
    </div>
  );
}
