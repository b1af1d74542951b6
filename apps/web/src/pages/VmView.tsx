import { useState } from 'react';
import { useLocation } from 'wouter';
import { api, errorText } from '../api/client';
import { useVm } from '../api/queries';
import { accessOf, addressesOf, sshCommand } from '../api/types';
import { ConfirmButton } from '../components/Confirm';
import { Gantt } from '../components/Gantt';
import { Status } from '../components/Status';
import { VmTerminal } from '../components/Terminal';
import { useSession } from '../session';

export default function VmView({ id }: { id: string }) {
  const vm = useVm(id);
  const { can } = useSession();
  const [, navigate] = useLocation();
  const [terminal, setTerminal] = useState(false);
  if (vm.error) return <p className="notice error">{errorText(vm.error)}</p>;
  if (!vm.data) return <p className="muted">Loading…</p>;
  const data = vm.data;
  const access = accessOf(data);
  const addresses = addressesOf(data);
  return (
    <>
      <div className="row" style={{ marginBottom: 10 }}>
        <h1 style={{ margin: 0 }}>{data.name}</h1>
        <Status value={data.status} />
        <span className="muted">
          {data.os} · {data.cpus ?? '?'} vCPU · {data.memoryMiB ?? '?'} MiB · {data.diskGiB ?? '?'} GiB · IP{' '}
          <span className="mono">{data.ip ?? '—'}</span>
          {data.vmid ? ` · VMID ${data.vmid} on ${data.node}` : ''}
          {access && (
            <>
              {' · '}
              <span className="mono" data-testid="vm-access">
                {sshCommand(access)}
              </span>
            </>
          )}
          {addresses.length > 0 && (
            <>
              {' · lab '}
              <span className="mono">
                {addresses.map((entry) => `${entry.network} ${entry.address ?? 'auto'}`).join(', ')}
              </span>
            </>
          )}
        </span>
        <span className="spacer" />
        {can('operator') && (
          <>
            <button type="button" disabled={data.status !== 'ready'} onClick={() => setTerminal(true)}>
              Terminal
            </button>
            {!data.labId && data.status !== 'destroyed' && data.status !== 'destroying' && (
              <ConfirmButton
                label="Destroy"
                title={`Destroy ${data.name}?`}
                danger
                onConfirm={async () => {
                  await api(`/vms/${id}`, { method: 'DELETE' });
                  navigate('/');
                }}
              />
            )}
          </>
        )}
      </div>
      {data.error && <p className="notice error">{data.error}</p>}
      <section className="card" aria-labelledby="steps-h">
        <h2 id="steps-h">Steps</h2>
        <Gantt rows={[{ label: data.name, steps: data.steps }]} />
        <table aria-label="Steps" style={{ marginTop: 10 }}>
          <thead>
            <tr>
              <th scope="col">step</th>
              <th scope="col">status</th>
              <th scope="col">attempts</th>
              <th scope="col">took</th>
            </tr>
          </thead>
          <tbody>
            {data.steps.map((step) => (
              <tr key={step.name}>
                <td>{step.name}</td>
                <td>
                  <Status value={step.status} />
                  {step.error && <div className="error">{step.error}</div>}
                </td>
                <td>{step.attempts}</td>
                <td>{step.durationMs !== undefined ? `${(step.durationMs / 1000).toFixed(1)}s` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {terminal && (
        <div style={{ marginTop: 14 }}>
          <VmTerminal vmId={id} vmName={data.name} onClose={() => setTerminal(false)} />
        </div>
      )}
    </>
  );
}
