import { Link } from 'wouter';
import { errorText } from '../api/client';
import { useFeatures } from '../api/features';
import { useAlerts, useLabs, useSystemStatus, useVms } from '../api/queries';
import { Status } from '../components/Status';
import { ago, until } from '../components/time';

const ACTIVE = new Set(['queued', 'deploying', 'ready', 'degraded', 'failed', 'destroying', 'cancelled']);

function QueueHealth() {
  const features = useFeatures();
  const enabled = features.has('/system/status', 'get');
  const status = useSystemStatus(enabled);
  if (!enabled) return <p className="muted">This API has no /system/status.</p>;
  if (status.error) return <p className="error">{errorText(status.error)}</p>;
  const data = status.data;
  if (!data) return <p className="muted">Loading…</p>;
  const scan = data.overseer.lastScan;
  return (
    <>
      <p>
        Overall <Status value={data.status} /> · Redis {data.redis.reachable ? 'reachable' : 'down'} · Postgres{' '}
        {data.postgres.reachable ? 'reachable' : 'down'}
      </p>
      <table aria-label="Queues">
        <thead>
          <tr>
            <th scope="col">queue</th>
            <th scope="col">waiting</th>
            <th scope="col">active</th>
            <th scope="col">delayed</th>
            <th scope="col">failed</th>
            <th scope="col">workers</th>
          </tr>
        </thead>
        <tbody>
          {data.queues.map((queue) => (
            <tr key={queue.name}>
              <td>{queue.name}</td>
              <td>{queue.waiting}</td>
              <td>{queue.active}</td>
              <td>{queue.delayed}</td>
              <td className={queue.failed > 0 ? 'error' : undefined}>{queue.failed}</td>
              <td className={queue.workers === 0 ? 'error' : undefined}>{queue.workers}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3 style={{ marginTop: 12 }}>Overseer</h3>
      {scan ? (
        <p>
          Last scan {ago(scan.finishedAt)} by <code>{scan.replica}</code>: {scan.vms} VMs, {scan.findings} findings;
          nodes {scan.nodes.map((node) => `${node.node} ${node.online ? 'online' : 'offline'}`).join(', ') || '—'}
        </p>
      ) : (
        <p className="muted">No overseer scan recorded yet.</p>
      )}
    </>
  );
}

export function Dashboard() {
  const labs = useLabs();
  const vms = useVms();
  const alerts = useAlerts('open');
  const activeLabs = (labs.data?.items ?? []).filter((lab) => ACTIVE.has(lab.status));
  const activeVms = (vms.data?.items ?? []).filter((vm) => vm.status !== 'destroyed');
  return (
    <>
      <h1>Dashboard</h1>
      <div className="grid">
        <section className="card" aria-labelledby="labs-h">
          <h2 id="labs-h">Labs ({activeLabs.length})</h2>
          {labs.error && <p className="error">{errorText(labs.error)}</p>}
          <table aria-label="Labs">
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">status</th>
                <th scope="col">copies</th>
                <th scope="col">expires in</th>
              </tr>
            </thead>
            <tbody>
              {activeLabs.map((lab) => (
                <tr key={lab.id}>
                  <td>
                    <Link href={`/labs/${lab.id}`}>{lab.name}</Link>
                  </td>
                  <td>
                    <Status value={lab.status} />
                  </td>
                  <td>{lab.copies}</td>
                  <td>{until(lab.expiresAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {activeLabs.length === 0 && <p className="muted">No labs. Deploy one from the catalog or the designer.</p>}
        </section>
        <section className="card" aria-labelledby="vms-h">
          <h2 id="vms-h">Standalone VMs ({activeVms.length})</h2>
          <table aria-label="Standalone VMs">
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">OS</th>
                <th scope="col">status</th>
                <th scope="col">IP</th>
              </tr>
            </thead>
            <tbody>
              {activeVms.map((vm) => (
                <tr key={vm.id}>
                  <td>
                    <Link href={`/vms/${vm.id}`}>{vm.name}</Link>
                  </td>
                  <td>{vm.os}</td>
                  <td>
                    <Status value={vm.status} />
                  </td>
                  <td className="mono">{vm.ip ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {activeVms.length === 0 && <p className="muted">No standalone VMs.</p>}
        </section>
        <section className="card" aria-labelledby="alerts-h">
          <h2 id="alerts-h">Open alerts ({alerts.data?.items.length ?? 0})</h2>
          <ul>
            {(alerts.data?.items ?? []).slice(0, 8).map((alert) => (
              <li key={alert.id}>
                <Status value={alert.severity} /> {alert.subject}: {alert.message}
              </li>
            ))}
          </ul>
          {alerts.data?.items.length === 0 && <p className="muted">Nothing open.</p>}
          <Link href="/alerts">All alerts</Link>
        </section>
        <section className="card" aria-labelledby="queues-h">
          <h2 id="queues-h">Queue health</h2>
          <QueueHealth />
        </section>
      </div>
    </>
  );
}
