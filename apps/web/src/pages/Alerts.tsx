import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, errorText } from '../api/client';
import { useFeatures } from '../api/features';
import { useAlerts } from '../api/queries';
import type { Alert } from '../api/types';
import { Status } from '../components/Status';
import { ago } from '../components/time';
import { useSession } from '../session';

export function Alerts() {
  const [state, setState] = useState<string>('open');
  const alerts = useAlerts(state || undefined);
  const { can } = useSession();
  const features = useFeatures();
  const client = useQueryClient();
  const act = useMutation({
    mutationFn: ({ alert, action }: { alert: Alert; action: 'ack' | 'resolve' }) =>
      api(`/alerts/${alert.id}/${action}`, { method: 'POST' }),
    onSettled: () => client.invalidateQueries({ queryKey: ['alerts'] }),
  });
  const canResolve = features.has('/alerts/{id}/resolve', 'post');
  return (
    <>
      <h1>Alerts</h1>
      <div className="row" style={{ marginBottom: 10 }}>
        <label className="inline">
          Show
          <select value={state} onChange={(event) => setState(event.target.value)}>
            <option value="open">open</option>
            <option value="acknowledged">acknowledged</option>
            <option value="resolved">resolved</option>
            <option value="">all</option>
          </select>
        </label>
      </div>
      {act.error && (
        <p className="notice error" role="alert">
          {errorText(act.error)}
        </p>
      )}
      <table aria-label="Alerts" className="card">
        <thead>
          <tr>
            <th scope="col">severity</th>
            <th scope="col">subject</th>
            <th scope="col">message</th>
            <th scope="col">last seen</th>
            <th scope="col">state</th>
            {can('operator') && <th scope="col">actions</th>}
          </tr>
        </thead>
        <tbody>
          {(alerts.data?.items ?? []).map((alert) => (
            <tr key={alert.id}>
              <td>
                <Status value={alert.severity} />
              </td>
              <td>{alert.subject}</td>
              <td>{alert.message}</td>
              <td>{ago(alert.last_seen_at)}</td>
              <td>
                <Status value={alert.state} />
                {alert.acknowledged_by && <div className="muted">by {alert.acknowledged_by}</div>}
              </td>
              {can('operator') && (
                <td className="row">
                  {alert.state === 'open' && (
                    <button type="button" onClick={() => act.mutate({ alert, action: 'ack' })}>
                      Acknowledge
                    </button>
                  )}
                  {canResolve && alert.state !== 'resolved' && (
                    <button type="button" onClick={() => act.mutate({ alert, action: 'resolve' })}>
                      Resolve
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {alerts.data?.items.length === 0 && <p className="muted">No {state} alerts.</p>}
    </>
  );
}
