import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useLocation } from 'wouter';
import { api, errorText } from '../api/client';
import { useFeatures } from '../api/features';
import { useLab, useTopology } from '../api/queries';
import { accessOf, addressesOf, isolationOf, type LabRoster, sshCommand, type Vm } from '../api/types';
import { useLabEvents } from '../api/use-lab-events';
import { ConfirmButton } from '../components/Confirm';
import { Gantt } from '../components/Gantt';
import { IsolationMatrix } from '../components/Isolation';
import { Status } from '../components/Status';
import { VmTerminal } from '../components/Terminal';
import { TopologyCanvas } from '../components/Topology';
import { until } from '../components/time';
import { useSession } from '../session';

function csvOf(records: object[]): string {
  const rows = records as Record<string, unknown>[];
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: unknown) => {
    const text =
      value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns.join(','), ...rows.map((row) => columns.map((column) => cell(row[column])).join(','))].join('\n');
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  // Released once the browser has started the download (at once, some browsers cancel it).
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

interface RosterRow {
  copy: number;
  vm: string;
  status: string;
  addresses: string;
  ssh: string;
  traineeKeys: string;
}

/** A row of `GET /labs/:id/roster` as the table and the CSV show it. */
function rosterRowOf(row: LabRoster['rows'][number]): RosterRow {
  return {
    copy: row.copyNumber,
    vm: row.vm,
    status: row.status,
    addresses: Object.entries(row.addresses)
      .map(([network, address]) => `${network} ${address ?? 'auto'}`)
      .join('; '),
    ssh: row.ssh.command ?? '',
    traineeKeys: row.traineeApiKeys.map((key) => key.name).join('; '),
  };
}

function Roster({ labId, labName, vms, fromApi }: { labId: string; labName: string; vms: Vm[]; fromApi: boolean }) {
  const roster = useQuery({
    queryKey: ['lab', labId, 'roster'],
    queryFn: () => api<LabRoster>(`/labs/${labId}/roster`),
    enabled: fromApi,
  });
  const rows: RosterRow[] = roster.data
    ? roster.data.rows.map(rosterRowOf)
    : vms.map((vm) => {
        const access = accessOf(vm);
        return {
          copy: (vm.copy ?? 0) + 1,
          vm: vm.name,
          status: vm.status,
          addresses: addressesOf(vm)
            .map((entry) => `${entry.network} ${entry.address ?? 'auto'}`)
            .join('; '),
          ssh: access ? sshCommand(access) : '',
          traineeKeys: '',
        };
      });
  return (
    <section className="card" aria-labelledby="roster-h">
      <div className="row">
        <h2 id="roster-h">Roster</h2>
        <span className="spacer" />
        <button type="button" onClick={() => download(`${labName}-roster.csv`, csvOf(rows))}>
          Export CSV
        </button>
      </div>
      <table aria-label="Roster">
        <thead>
          <tr>
            <th scope="col">copy</th>
            <th scope="col">VM</th>
            <th scope="col">status</th>
            <th scope="col">lab addresses</th>
            <th scope="col">SSH</th>
            <th scope="col">trainee keys</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={`${row.copy}:${row.vm}`}>
              <td>{row.copy}</td>
              <td>{row.vm}</td>
              <td>
                <Status value={row.status} />
              </td>
              <td className="mono">{row.addresses || '—'}</td>
              <td className="mono">{row.ssh || '—'}</td>
              <td>{row.traineeKeys || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** What can be done to the VM picked on the canvas: its terminal, a snapshot, a reset, its copy's reset. */
function VmActions(props: {
  vm: Vm;
  copy: number;
  labId: string;
  features: ReturnType<typeof useFeatures>;
  act: (path: string, method?: 'POST' | 'DELETE' | 'PATCH', body?: unknown) => Promise<void>;
  onTerminal: () => void;
  onClose: () => void;
}) {
  const { vm, copy, labId, features, act } = props;
  const ready = vm.status === 'ready';
  return (
    <section className="card" aria-label={`Actions on ${vm.name}`} data-testid="vm-actions" style={{ marginTop: 10 }}>
      <div className="row">
        <strong>
          {vm.name} (copy {copy + 1})
        </strong>
        <Status value={vm.status} />
        <span className="spacer" />
        <button type="button" disabled={!ready} onClick={props.onTerminal} aria-label={`Open a terminal on ${vm.name}`}>
          Terminal
        </button>
        {features.has('/vms/{id}/snapshots', 'post') && (
          <ConfirmButton
            label="Snapshot VM"
            title={`Snapshot ${vm.name}?`}
            disabled={!ready}
            onConfirm={() => act(`/vms/${vm.id}/snapshots`, 'POST', { name: `ui-${Date.now()}` })}
          />
        )}
        {features.has('/vms/{id}/reset', 'post') && (
          <ConfirmButton
            label="Reset VM"
            title={`Reset ${vm.name} to its initial snapshot?`}
            danger
            disabled={!ready}
            onConfirm={() => act(`/vms/${vm.id}/reset`)}
          >
            <p>What was written on it since the lab first became ready is lost.</p>
          </ConfirmButton>
        )}
        {features.has('/labs/{id}/reset', 'post') && (
          <ConfirmButton
            label={`Reset copy ${copy + 1}`}
            title={`Reset every VM of copy ${copy + 1}?`}
            danger
            onConfirm={() => act(`/labs/${labId}/reset`, 'POST', { copy })}
          />
        )}
        <button type="button" onClick={props.onClose} aria-label="Close the VM's actions">
          Close
        </button>
      </div>
    </section>
  );
}

export default function LabView({ id }: { id: string }) {
  const lab = useLab(id);
  const topology = useTopology(id);
  const { events, connected } = useLabEvents(id);
  const features = useFeatures();
  const { can } = useSession();
  const client = useQueryClient();
  const [, navigate] = useLocation();
  const [copy, setCopy] = useState(0);
  const [terminal, setTerminal] = useState<Vm>();
  const [selectedVm, setSelectedVm] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const copyVms = useMemo(() => (lab.data?.vms ?? []).filter((vm) => (vm.copy ?? 0) === copy), [lab.data, copy]);
  if (lab.error) return <p className="notice error">{errorText(lab.error)}</p>;
  if (!lab.data) return <p className="muted">Loading…</p>;
  const data = lab.data;
  const act = async (path: string, method: 'POST' | 'DELETE' | 'PATCH' = 'POST', body?: unknown) => {
    setActionError(undefined);
    try {
      await api(path, { method, ...(body ? { body } : {}) });
    } finally {
      await client.invalidateQueries({ queryKey: ['lab', id] });
    }
  };
  const isolation = isolationOf(data);
  const operator = can('operator');
  // The VM picked on the canvas (operators only pick).
  const picked = operator ? copyVms.find((vm) => vm.name === selectedVm) : undefined;
  return (
    <>
      <div className="row" style={{ marginBottom: 10 }}>
        <h1 style={{ margin: 0 }}>{data.name}</h1>
        <Status value={data.status} />
        <span className="muted">
          {data.copies} cop{data.copies === 1 ? 'y' : 'ies'} · expires in {until(data.expiresAt)} · live{' '}
          {connected ? 'stream connected' : 'stream reconnecting…'}
        </span>
        <span className="spacer" />
        {operator && (
          <fieldset className="plain row" aria-label="Lab actions">
            {(data.status === 'failed' || data.status === 'degraded') && (
              <ConfirmButton label="Retry" title={`Retry ${data.name}?`} onConfirm={() => act(`/labs/${id}/retry`)}>
                <p>What failed runs again; what is ready stays.</p>
              </ConfirmButton>
            )}
            {(data.status === 'queued' || data.status === 'deploying') && (
              <ConfirmButton label="Cancel" title={`Cancel ${data.name}?`} onConfirm={() => act(`/labs/${id}/cancel`)}>
                <p>In-flight work stops at its next step.</p>
              </ConfirmButton>
            )}
            {features.has('/labs/{id}', 'patch') && data.status !== 'destroyed' && (
              <ConfirmButton
                label="Extend 1h"
                title="Extend the TTL by an hour?"
                onConfirm={() =>
                  act(`/labs/${id}`, 'PATCH', {
                    ttl: `${Math.ceil((Date.parse(data.expiresAt ?? new Date().toISOString()) - Date.now()) / 60000) + 60}m`,
                  })
                }
              />
            )}
            {features.has('/labs/{id}/snapshots', 'post') && data.status === 'ready' && (
              <ConfirmButton
                label="Snapshot"
                title="Snapshot the whole lab?"
                onConfirm={() => act(`/labs/${id}/snapshots`, 'POST', { name: `ui-${Date.now()}` })}
              />
            )}
            {features.has('/labs/{id}/reset', 'post') && (
              <ConfirmButton
                label="Reset"
                title="Reset every VM to its initial snapshot?"
                danger
                onConfirm={() => act(`/labs/${id}/reset`)}
              />
            )}
            {data.status !== 'destroyed' && data.status !== 'destroying' && (
              <ConfirmButton
                label="Destroy"
                title={`Destroy ${data.name}?`}
                danger
                onConfirm={async () => {
                  await act(`/labs/${id}`, 'DELETE');
                  navigate('/');
                }}
              >
                <p>Every VM, network and lease of every copy is removed.</p>
              </ConfirmButton>
            )}
          </fieldset>
        )}
      </div>
      {data.error && <p className="notice error">{data.error}</p>}
      {actionError && <p className="notice error">{actionError}</p>}
      {data.copies > 1 && (
        <fieldset className="plain row" aria-label="Copy" style={{ marginBottom: 8 }}>
          <span className="muted">Copy</span>
          {Array.from({ length: data.copies }, (_, index) => (
            <button
              // biome-ignore lint/suspicious/noArrayIndexKey: copies are numbered
              key={index}
              type="button"
              className={index === copy ? 'primary' : undefined}
              aria-pressed={index === copy}
              onClick={() => setCopy(index)}
            >
              {index + 1}
            </button>
          ))}
        </fieldset>
      )}
      {topology.data ? (
        <TopologyCanvas
          topology={topology.data}
          vms={copyVms}
          selected={selectedVm}
          {...(operator ? { onSelectVm: setSelectedVm } : {})}
        />
      ) : (
        <p className="muted">{topology.error ? errorText(topology.error) : 'Loading topology…'}</p>
      )}
      {picked && (
        <VmActions
          vm={picked}
          copy={copy}
          labId={id}
          features={features}
          act={act}
          onTerminal={() => setTerminal(picked)}
          onClose={() => setSelectedVm(undefined)}
        />
      )}
      <div className="stack" style={{ marginTop: 14 }}>
        <section className="card" aria-labelledby="vms-h">
          <h2 id="vms-h">VMs of copy {copy + 1}</h2>
          <table aria-label={`VMs of copy ${copy + 1}`}>
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">status</th>
                <th scope="col">lab addresses</th>
                <th scope="col">access</th>
                {operator && <th scope="col">terminal</th>}
              </tr>
            </thead>
            <tbody>
              {copyVms.map((vm) => (
                <tr key={vm.id} data-testid={`vm-row-${vm.name}`}>
                  <td>{vm.name}</td>
                  <td>
                    <Status value={vm.status} />
                    {vm.error && <div className="error">{vm.error}</div>}
                  </td>
                  <td className="mono">
                    {addressesOf(vm).map((entry) => (
                      <div key={entry.network}>
                        {entry.network} {entry.address ?? 'auto'}
                      </div>
                    ))}
                  </td>
                  <td className="mono">{accessOf(vm) ? sshCommand(accessOf(vm)!) : (vm.ip ?? '—')}</td>
                  {operator && (
                    <td>
                      <button
                        type="button"
                        disabled={vm.status !== 'ready'}
                        onClick={() => setTerminal(vm)}
                        aria-label={`Open a terminal on ${vm.name}`}
                      >
                        Terminal
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="gantt-h">
          <h2 id="gantt-h">Step timeline</h2>
          <Gantt
            rows={[
              ...copyVms.map((vm) => ({ label: vm.name, steps: vm.steps })),
              // Lab-wide tasks (networks, the isolation check) run once for every copy.
              ...(data.steps.length > 0 ? [{ label: 'lab', steps: data.steps }] : []),
            ]}
          />
        </section>
      </div>
      {terminal && (
        <div style={{ marginTop: 14 }}>
          <VmTerminal
            key={terminal.id}
            vmId={terminal.id}
            vmName={terminal.name}
            onClose={() => setTerminal(undefined)}
          />
        </div>
      )}
      {isolation ? (
        <IsolationMatrix result={isolation} copy={copy} />
      ) : (
        <p className="muted" style={{ marginTop: 14 }}>
          Isolation check: not run yet (each copy's runs once its VMs are configured).
        </p>
      )}
      <div className="stack" style={{ marginTop: 14 }}>
        <Roster labId={id} labName={data.name} vms={data.vms} fromApi={features.has('/labs/{id}/roster', 'get')} />
        <section className="card" aria-labelledby="events-h">
          <h2 id="events-h">Events</h2>
          {/* Scrollable, so it takes keyboard focus (a reader scrolls it with the arrow keys). */}
          <ol
            style={{ maxHeight: 260, overflow: 'auto', margin: 0, paddingLeft: 18 }}
            aria-live="polite"
            aria-label="Lab events"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
            tabIndex={0}
          >
            {events.slice(-60).map((event) => (
              <li key={event.id}>
                <span className="muted">{new Date(event.at).toLocaleTimeString()}</span> {event.message}
              </li>
            ))}
          </ol>
        </section>
      </div>
    </>
  );
}
