import type { IsolationPair, IsolationResult } from '../api/types';
import styles from './Isolation.module.css';
import { Status } from './Status';

type Verdict = 'agreed' | 'disagreed' | 'unprobed';

function verdictOf(pair: IsolationPair): Verdict {
  if (pair.observed === 'not probed') return 'unprobed';
  return pair.observed === pair.expected ? 'agreed' : 'disagreed';
}

const MARK: Record<Verdict, string> = { agreed: '✓', disagreed: '✗', unprobed: '?' };

function portOf(pair: IsolationPair): string {
  return pair.port === null ? pair.proto : `${pair.proto}/${pair.port}`;
}

function describe(pair: IsolationPair): string {
  const observed = pair.observed === 'not probed' ? 'not probed' : `observed ${pair.observed}`;
  return `${pair.from} → ${pair.to}${pair.address ? ` (${pair.address})` : ''} ${portOf(pair)}: expected ${pair.expected}, ${observed} — ${pair.why}, by ${pair.method}`;
}

/**
 * The lab's isolation check for one copy: a matrix of source VM × destination (a VM of the copy,
 * the outside, the other copy), each cell listing its probes with what the policy expects and
 * whether the packet from inside the guest agreed; every probe with its reason below.
 */
export function IsolationMatrix({ result, copy }: { result: IsolationResult; copy: number }) {
  const pairs = result.pairs.filter((pair) => pair.copy === copy);
  const sources = [...new Set(pairs.map((pair) => pair.from))];
  const targets = [...new Set(pairs.map((pair) => pair.to))].sort(
    (a, b) => Number(a.includes(':') || a === 'outside') - Number(b.includes(':') || b === 'outside'),
  );
  const wrong = pairs.filter((pair) => verdictOf(pair) === 'disagreed').length;
  return (
    <section className="card" style={{ marginTop: 14 }} aria-labelledby="iso-h" data-testid="isolation">
      <div className="row">
        <h2 id="iso-h">Isolation matrix</h2>
        <Status value={result.agreed ? 'ok' : 'failed'} label={result.agreed ? 'agreed' : 'disagreed'} />
        <span className="muted">
          copy {copy + 1}: {pairs.length} probes, {wrong} disagreeing · whole lab: {result.probes} probes, checked{' '}
          {result.checkedAt ? new Date(result.checkedAt).toLocaleTimeString() : '—'}
        </span>
      </div>
      <p className="muted" style={{ margin: '4px 0 8px' }}>
        Each probe is a packet sent from inside the source guest. ✓ the firewall did what the spec says, ✗ it did not, ?
        not probed (UDP has no answer to wait for).
      </p>
      <table aria-label="Isolation matrix" className={styles.matrix}>
        <thead>
          <tr>
            <th scope="col">from ↓ to →</th>
            {targets.map((target) => (
              <th key={target} scope="col">
                {target}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sources.map((source) => (
            <tr key={source}>
              <th scope="row">{source}</th>
              {targets.map((target) => {
                const cell = pairs.filter((pair) => pair.from === source && pair.to === target);
                return (
                  <td key={target}>
                    {cell.length === 0 ? (
                      <span className="muted">—</span>
                    ) : (
                      cell.map((pair) => (
                        <span
                          key={`${portOf(pair)}:${pair.address}`}
                          className={`${styles.probe} ${styles[verdictOf(pair)]}`}
                          data-verdict={verdictOf(pair)}
                          title={describe(pair)}
                        >
                          <span aria-hidden="true">{MARK[verdictOf(pair)]}</span> {portOf(pair)} {pair.expected}
                          <span className="visually-hidden">
                            , {verdictOf(pair) === 'unprobed' ? 'not probed' : verdictOf(pair)}
                          </span>
                        </span>
                      ))
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <details style={{ marginTop: 8 }}>
        <summary>Every probe of copy {copy + 1}</summary>
        <ul className={styles.list}>
          {pairs.map((pair) => (
            <li key={`${pair.from}:${pair.to}:${portOf(pair)}:${pair.address}`} data-verdict={verdictOf(pair)}>
              {MARK[verdictOf(pair)]} {describe(pair)}
            </li>
          ))}
        </ul>
      </details>
    </section>
  );
}
