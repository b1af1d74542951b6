import '@xyflow/react/dist/style.css';
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from '@xyflow/react';
import { type DragEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { useLocation } from 'wouter';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { ApiError, api, errorText } from '../api/client';
import { useFeatures } from '../api/features';
import { useOsProfiles } from '../api/queries';
import type { Accepted, DryRun } from '../api/types';
import { nodeTypes as viewNodeTypes } from '../components/Topology';
import {
  criticalVms,
  type Design,
  type DesignVm,
  designOf,
  emptyDesign,
  freeCidr,
  freeName,
  freeSpot,
  NETWORK_SIZE,
  networkAt,
  newId,
  type PinnedIssue,
  pinIssues,
  renameNetwork,
  renameVm,
  specOf,
} from '../designer/model';
import styles from './Designer.module.css';

const OS_DATA = 'application/x-glassdome-os';

function ZoneNode({ data }: NodeProps<Node<{ name: string; cidr: string; issue?: string }>>) {
  return (
    <div className={`${styles.zone} ${data.issue ? styles.invalid : ''}`} data-testid={`zone-${data.name}`}>
      <Handle type="target" position={Position.Left} />
      <strong>{data.name}</strong> <span className="mono">{data.cidr}</span>
      <div>drop VMs here</div>
      {data.issue && <div className="error">{data.issue}</div>}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

const nodeTypes = { zone: ZoneNode, vm: viewNodeTypes.vm };

interface Validation {
  state: 'idle' | 'checking' | 'valid' | 'invalid' | 'error';
  issues: PinnedIssue[];
  critical: Set<string>;
  message?: string;
  estimatedMs?: number;
}

function Canvas(props: {
  design: Design;
  setDesign: (update: (design: Design) => Design) => void;
  selected: string | undefined;
  select: (id: string | undefined) => void;
  validation: Validation;
  addVm: (os: string, networkName: string | undefined, position?: { x: number; y: number }) => void;
}) {
  const { design, setDesign, selected, select, validation } = props;
  const flow = useReactFlow();
  // A network or VM added (or removed) refits the view, so a new node is never off the canvas.
  const count = design.networks.length + design.vms.length;
  useEffect(() => {
    if (count === 0) return;
    // After the new node has been drawn and measured (a moment later, not in this render).
    const timer = setTimeout(() => void flow.fitView({ padding: 0.2, maxZoom: 1 }), 120);
    return () => clearTimeout(timer);
  }, [count, flow]);
  const issueOf = (node: string) =>
    validation.issues
      .filter((issue) => issue.node === node)
      .map((issue) => `${issue.field}: ${issue.message}`)
      .join('; ') || undefined;
  const nodes: Node[] = [
    ...design.networks.map((network) => ({
      id: `net:${network.id}`,
      type: 'zone',
      position: network.position,
      data: { name: network.name, cidr: network.cidr, issue: issueOf(`net:${network.id}`) },
      style: { width: NETWORK_SIZE.width, height: NETWORK_SIZE.height },
      zIndex: -1,
      selected: selected === `net:${network.id}`,
    })),
    ...design.vms.map((vm) => ({
      id: `vm:${vm.id}`,
      type: 'vm',
      position: vm.position,
      data: {
        name: vm.name,
        os: vm.os,
        addresses: vm.networks.map((nic) => `${nic.name}${nic.ip ? ` ${nic.ip}` : ''}`),
        issue: issueOf(`vm:${vm.id}`),
        critical: validation.critical.has(vm.name),
        selected: selected === `vm:${vm.id}`,
      },
      selected: selected === `vm:${vm.id}`,
    })),
  ];
  const netId = (name: string) => design.networks.find((network) => network.name === name)?.id;
  const vmByName = (name: string) => design.vms.find((vm) => vm.name === name);
  const endpoint = (name: string) =>
    netId(name) ? `net:${netId(name)}` : vmByName(name) ? `vm:${vmByName(name)!.id}` : undefined;
  const edges: Edge[] = [];
  for (const vm of design.vms) {
    for (const dependency of vm.dependsOn) {
      const source = vmByName(dependency);
      if (!source) continue;
      const critical = validation.critical.has(vm.name) && validation.critical.has(dependency);
      edges.push({
        id: `dep:${source.id}:${vm.id}`,
        source: `vm:${source.id}`,
        target: `vm:${vm.id}`,
        label: 'depends on',
        style: { strokeDasharray: '6 4', stroke: critical ? '#e3b341' : '#9aa7b6', strokeWidth: critical ? 3 : 1.5 },
        markerEnd: { type: MarkerType.ArrowClosed },
      });
    }
  }
  design.rules.forEach((rule, index) => {
    const source = endpoint(rule.from);
    const target = endpoint(rule.to);
    if (source && target)
      edges.push({
        id: `rule:${index}`,
        source,
        target,
        label: rule.ports.join(' '),
        animated: true,
        style: { stroke: '#e3b341' },
        markerEnd: { type: MarkerType.ArrowClosed, color: '#e3b341' },
      });
  });

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    const os = event.dataTransfer.getData(OS_DATA);
    if (!os) return;
    const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    props.addVm(os, networkAt(design, point)?.name, { x: point.x - 90, y: point.y - 30 });
  };
  const onConnect = (connection: Connection) => {
    const [sourceKind, sourceId] = connection.source.split(':') as [string, string];
    const [targetKind, targetId] = connection.target.split(':') as [string, string];
    const nameOf = (kind: string, id: string) =>
      kind === 'vm' ? design.vms.find((vm) => vm.id === id)?.name : design.networks.find((n) => n.id === id)?.name;
    const from = nameOf(sourceKind, sourceId);
    const to = nameOf(targetKind, targetId);
    if (!from || !to || from === to) return;
    if (sourceKind === 'vm' && targetKind === 'vm') {
      // An edge a → b: b's post-configuration waits for a.
      setDesign((d) => ({
        ...d,
        vms: d.vms.map((vm) =>
          vm.id === targetId && !vm.dependsOn.includes(from) ? { ...vm, dependsOn: [...vm.dependsOn, from] } : vm,
        ),
      }));
    } else {
      setDesign((d) => ({ ...d, rules: [...d.rules, { from, to, ports: ['tcp/22'] }] }));
    }
  };
  return (
    <div
      className={styles.canvas}
      onDragOver={(event) => event.preventDefault()}
      onDrop={onDrop}
      role="application"
      aria-label="Lab canvas"
    >
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
        colorMode="dark"
        proOptions={{ hideAttribution: true }}
        onConnect={onConnect}
        onNodeClick={(_, node) => select(node.id)}
        onPaneClick={() => select(undefined)}
        onNodeDragStop={(_, node) => {
          const [kind, id] = node.id.split(':') as [string, string];
          setDesign((d) => {
            if (kind === 'net')
              return { ...d, networks: d.networks.map((n) => (n.id === id ? { ...n, position: node.position } : n)) };
            const center = { x: node.position.x + 90, y: node.position.y + 30 };
            const zone = networkAt(d, center);
            return {
              ...d,
              vms: d.vms.map((vm) => {
                if (vm.id !== id) return vm;
                // Dropped in another network: the VM joins it too (dual-homed); remove it in the panel.
                const joins = zone && !vm.networks.some((nic) => nic.name === zone.name);
                return {
                  ...vm,
                  position: node.position,
                  networks: joins ? [...vm.networks, { name: zone.name }] : vm.networks,
                };
              }),
            };
          });
        }}
      >
        <Background />
        <Controls />
      </ReactFlow>
    </div>
  );
}

function FieldIssue({ issues, field }: { issues: PinnedIssue[]; field: string }) {
  const found = issues.filter((issue) => issue.field === field || issue.field.startsWith(`${field}.`));
  if (found.length === 0) return null;
  return (
    <span className="error" id={`issue-${field}`}>
      {found.map((issue) => issue.message).join('; ')}
    </span>
  );
}

function VmProperties({
  vm,
  design,
  setDesign,
  issues,
}: {
  vm: DesignVm;
  design: Design;
  setDesign: (u: (d: Design) => Design) => void;
  issues: PinnedIssue[];
}) {
  const update = (patch: Partial<DesignVm>) =>
    setDesign((d) => ({ ...d, vms: d.vms.map((v) => (v.id === vm.id ? { ...v, ...patch } : v)) }));
  const numberField = (field: 'cpus' | 'memoryMiB' | 'diskGiB', label: string) => (
    <label>
      {label}
      <input
        type="number"
        value={vm[field] ?? ''}
        aria-invalid={issues.some((issue) => issue.field === field) || undefined}
        onChange={(event) => update({ [field]: event.target.value === '' ? undefined : Number(event.target.value) })}
      />
      <FieldIssue issues={issues} field={field} />
    </label>
  );
  return (
    <fieldset className="card" aria-label={`Properties of ${vm.name}`}>
      <legend>VM {vm.name}</legend>
      <label>
        Name
        <input
          value={vm.name}
          onChange={(event) => setDesign((d) => renameVm(d, vm.id, event.target.value))}
          aria-invalid={issues.some((issue) => issue.field === 'name') || undefined}
        />
        <FieldIssue issues={issues} field="name" />
      </label>
      <label>
        OS
        <input value={vm.os} onChange={(event) => update({ os: event.target.value })} />
      </label>
      <div className="grid" style={{ gridTemplateColumns: '1fr 1fr 1fr', gap: 6 }}>
        {numberField('cpus', 'vCPUs')}
        {numberField('memoryMiB', 'Memory MiB')}
        {numberField('diskGiB', 'Disk GiB')}
      </div>
      <fieldset className="plain" aria-label="Networks">
        <span className="muted">Networks (first is net0)</span>
        {design.networks.map((network) => {
          const nic = vm.networks.find((n) => n.name === network.name);
          return (
            <div key={network.id} className="row">
              <label className="inline">
                <input
                  type="checkbox"
                  checked={Boolean(nic)}
                  onChange={(event) =>
                    update({
                      networks: event.target.checked
                        ? [...vm.networks, { name: network.name }]
                        : vm.networks.filter((n) => n.name !== network.name),
                    })
                  }
                />
                {network.name}
              </label>
              {nic && (
                <input
                  aria-label={`Static address on ${network.name}`}
                  placeholder="auto"
                  size={12}
                  value={nic.ip ?? ''}
                  onChange={(event) =>
                    update({
                      networks: vm.networks.map((n) =>
                        n.name === network.name
                          ? { name: n.name, ...(event.target.value ? { ip: event.target.value } : {}) }
                          : n,
                      ),
                    })
                  }
                />
              )}
            </div>
          );
        })}
        <FieldIssue issues={issues} field="networks" />
      </fieldset>
      <fieldset className="plain" aria-label="Depends on">
        <span className="muted">Depends on</span>
        <div className={styles.checks}>
          {design.vms
            .filter((other) => other.id !== vm.id)
            .map((other) => (
              <label key={other.id} className="inline">
                <input
                  type="checkbox"
                  checked={vm.dependsOn.includes(other.name)}
                  onChange={(event) =>
                    update({
                      dependsOn: event.target.checked
                        ? [...vm.dependsOn, other.name]
                        : vm.dependsOn.filter((name) => name !== other.name),
                    })
                  }
                />
                {other.name}
              </label>
            ))}
        </div>
        <FieldIssue issues={issues} field="dependsOn" />
      </fieldset>
      <label>
        Login user
        <input value={vm.user ?? ''} onChange={(event) => update({ user: event.target.value || undefined })} />
      </label>
      <label>
        SSH public keys (one per line)
        <textarea
          rows={2}
          value={vm.sshKeys.join('\n')}
          onChange={(event) => update({ sshKeys: event.target.value.split('\n').filter(Boolean) })}
        />
        <FieldIssue issues={issues} field="cloudInit" />
      </label>
      <label>
        Provisioning (one command per line)
        <textarea
          rows={3}
          value={vm.provision.join('\n')}
          onChange={(event) => update({ provision: event.target.value.split('\n') })}
        />
        <FieldIssue issues={issues} field="provision" />
      </label>
      <button
        type="button"
        className="danger"
        onClick={() => setDesign((d) => ({ ...d, vms: d.vms.filter((v) => v.id !== vm.id) }))}
      >
        Remove {vm.name}
      </button>
    </fieldset>
  );
}

function DesignerPage() {
  const profiles = useOsProfiles();
  const [, navigate] = useLocation();
  const [design, setDesignState] = useState<Design>(emptyDesign);
  const [yamlText, setYamlText] = useState(() => toYaml(specOf(design)));
  const [yamlError, setYamlError] = useState<string>();
  const [selected, select] = useState<string>();
  const [validation, setValidation] = useState<Validation>({ state: 'idle', issues: [], critical: new Set() });
  const [deployError, setDeployError] = useState<string>();
  const [deploying, setDeploying] = useState(false);
  const [saved, setSaved] = useState<string>();
  const features = useFeatures();

  // Canvas and form edits rewrite the YAML; YAML edits rewrite the design (see onYaml).
  const setDesign = useCallback((update: (design: Design) => Design) => {
    setDesignState((current) => {
      const next = update(current);
      setYamlText(toYaml(specOf(next)));
      setYamlError(undefined);
      return next;
    });
  }, []);
  const onYaml = (text: string) => {
    setYamlText(text);
    try {
      const next = designOf(parseYaml(text), design);
      setDesignState(next);
      setYamlError(undefined);
    } catch (error) {
      setYamlError(error instanceof Error ? error.message : String(error));
    }
  };

  const spec = useMemo(() => specOf(design), [design]);
  // Every change is checked by the API's own dry run, a moment after typing stops.
  useEffect(() => {
    if (design.vms.length === 0) {
      setValidation({ state: 'idle', issues: [], critical: new Set() });
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(async () => {
      setValidation((v) => ({ ...v, state: 'checking' }));
      try {
        const plan = await api<DryRun>('/labs?dryRun=true', { method: 'POST', body: spec, signal: abort.signal });
        setValidation({
          state: 'valid',
          issues: [],
          critical: criticalVms(plan.criticalPath.tasks, design),
          estimatedMs: plan.criticalPath.estimatedMs,
        });
      } catch (error) {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.status === 400) {
          setValidation({
            state: 'invalid',
            issues: pinIssues(design, error.issues),
            critical: new Set(),
            message: error.message,
          });
        } else setValidation({ state: 'error', issues: [], critical: new Set(), message: errorText(error) });
      }
    }, 500);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [spec, design]);

  const addVm = (os: string, networkName: string | undefined, position?: { x: number; y: number }) => {
    // The id is made outside the state update: React may run an updater twice.
    const id = newId('vm');
    select(`vm:${id}`);
    setDesign((d) => {
      // Into the network it was dropped on, else the selected network, else the selected VM's, else the first.
      const selectedVmNetwork = d.vms.find((v) => `vm:${v.id}` === selected)?.networks[0]?.name;
      const network =
        d.networks.find((n) => n.name === networkName) ??
        d.networks.find((n) => `net:${n.id}` === selected) ??
        d.networks.find((n) => n.name === selectedVmNetwork) ??
        d.networks[0];
      const base = os.startsWith('ubuntu') ? 'ubuntu' : os.startsWith('debian') ? 'debian' : os;
      const vm: DesignVm = {
        id,
        name: freeName(
          base,
          d.vms.map((v) => v.name),
        ),
        os,
        networks: network ? [{ name: network.name }] : [],
        dependsOn: [],
        sshKeys: [],
        provision: [],
        position: freeSpot(d.vms, network, position),
      };
      return { ...d, vms: [...d.vms, vm] };
    });
  };
  const addNetwork = () =>
    setDesign((d) => {
      const name = freeName(
        'net',
        d.networks.map((n) => n.name),
      );
      const last = d.networks.at(-1);
      return {
        ...d,
        networks: [
          ...d.networks,
          {
            id: newId('net'),
            name,
            cidr: freeCidr(d),
            position: { x: (last?.position.x ?? -380) + NETWORK_SIZE.width + 80, y: 0 },
          },
        ],
      };
    });
  // The project's saved specs (`POST /lab-specs`, where the API has it): a name saved again is a new version.
  const save = async () => {
    setDeployError(undefined);
    setSaved(undefined);
    try {
      const answer = await api<Record<string, unknown>>('/lab-specs', { method: 'POST', body: { spec } });
      const version = typeof answer?.version === 'number' ? ` version ${answer.version}` : '';
      setSaved(`saved as ${typeof answer?.name === 'string' ? answer.name : design.name}${version}`);
    } catch (error) {
      setDeployError(errorText(error));
    }
  };
  const deploy = async () => {
    setDeploying(true);
    setDeployError(undefined);
    try {
      const answer = await api<Accepted>('/labs', { method: 'POST', body: spec });
      navigate(`/labs/${answer.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        setValidation({
          state: 'invalid',
          issues: pinIssues(design, error.issues),
          critical: new Set(),
          message: error.message,
        });
      }
      setDeployError(errorText(error));
    } finally {
      setDeploying(false);
    }
  };

  const selectedVm = design.vms.find((vm) => `vm:${vm.id}` === selected);
  const selectedNet = design.networks.find((network) => `net:${network.id}` === selected);
  const issuesOf = (node: string) => validation.issues.filter((issue) => issue.node === node);
  const topIssues = validation.issues;
  return (
    <>
      <div className="row" style={{ marginBottom: 10 }}>
        <h1 style={{ margin: 0 }}>Lab designer</h1>
        <label className="inline">
          Lab name
          <input value={design.name} onChange={(event) => setDesign((d) => ({ ...d, name: event.target.value }))} />
        </label>
        <label className="inline">
          Copies
          <input
            type="number"
            min={1}
            style={{ width: 70 }}
            value={design.copies}
            onChange={(event) => setDesign((d) => ({ ...d, copies: Number(event.target.value) || 1 }))}
          />
        </label>
        <label className="inline">
          TTL
          <input
            style={{ width: 70 }}
            value={design.ttl}
            onChange={(event) => setDesign((d) => ({ ...d, ttl: event.target.value }))}
          />
        </label>
        <span className="spacer" />
        <span
          role="status"
          data-testid="validation"
          data-state={validation.state}
          className={validation.state === 'invalid' || validation.state === 'error' ? 'error' : 'muted'}
        >
          {validation.state === 'valid'
            ? `valid · critical path ≈ ${Math.round((validation.estimatedMs ?? 0) / 1000)}s on a real cluster`
            : validation.state === 'invalid'
              ? `${validation.issues.length} problem${validation.issues.length === 1 ? '' : 's'}`
              : validation.state === 'checking'
                ? 'checking…'
                : (validation.message ?? 'add a VM to start')}
        </span>
        {features.has('/lab-specs', 'post') && (
          <button type="button" disabled={validation.state !== 'valid'} onClick={save}>
            Save spec
          </button>
        )}
        <button type="button" className="primary" disabled={deploying || validation.state !== 'valid'} onClick={deploy}>
          Deploy lab
        </button>
      </div>
      {deployError && (
        <p className="notice error" role="alert">
          {deployError}
        </p>
      )}
      {saved && (
        <p className="notice" role="status" data-testid="saved">
          {saved}
        </p>
      )}
      <div className={styles.layout}>
        <fieldset className={`plain ${styles.palette}`} aria-label="Palette">
          <button type="button" onClick={addNetwork}>
            + Network
          </button>
          <span className="muted">Drag an OS into a network, or press it to add one to the selected network</span>
          {(profiles.data?.items ?? []).map((profile) => (
            <button
              key={profile.os}
              type="button"
              draggable
              data-testid={`palette-${profile.os}`}
              onDragStart={(event) => {
                event.dataTransfer.setData(OS_DATA, profile.os);
                event.dataTransfer.effectAllowed = 'copy';
              }}
              onClick={() => addVm(profile.os, undefined)}
              aria-label={`Add a ${profile.label} VM`}
            >
              {profile.label}
            </button>
          ))}
        </fieldset>
        <ReactFlowProvider>
          <Canvas
            design={design}
            setDesign={setDesign}
            selected={selected}
            select={select}
            validation={validation}
            addVm={addVm}
          />
        </ReactFlowProvider>
        <div className={styles.panel}>
          {selectedVm && (
            <VmProperties
              vm={selectedVm}
              design={design}
              setDesign={setDesign}
              issues={issuesOf(`vm:${selectedVm.id}`)}
            />
          )}
          {selectedNet && (
            <fieldset className="card" aria-label={`Properties of network ${selectedNet.name}`}>
              <legend>Network {selectedNet.name}</legend>
              <label>
                Name
                <input
                  value={selectedNet.name}
                  onChange={(event) => setDesign((d) => renameNetwork(d, selectedNet.id, event.target.value))}
                />
                <FieldIssue issues={issuesOf(`net:${selectedNet.id}`)} field="name" />
              </label>
              <label>
                CIDR
                <input
                  value={selectedNet.cidr}
                  onChange={(event) =>
                    setDesign((d) => ({
                      ...d,
                      networks: d.networks.map((n) =>
                        n.id === selectedNet.id ? { ...n, cidr: event.target.value } : n,
                      ),
                    }))
                  }
                />
                <FieldIssue issues={issuesOf(`net:${selectedNet.id}`)} field="cidr" />
              </label>
              <button
                type="button"
                className="danger"
                onClick={() =>
                  setDesign((d) => ({ ...d, networks: d.networks.filter((n) => n.id !== selectedNet.id) }))
                }
              >
                Remove network
              </button>
            </fieldset>
          )}
          {!selectedVm && !selectedNet && (
            <p className="muted">
              Select a VM or a network to edit it. Connect two VMs for dependsOn, two networks for a rule.
            </p>
          )}
          <fieldset className="card" aria-label="Rules">
            <legend>Rules</legend>
            {design.rules.map((rule, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rules are edited in place by position
              <div key={index} className="row" style={{ marginBottom: 6 }}>
                <span className="mono">
                  {rule.from} → {rule.to}
                </span>
                <input
                  aria-label={`Ports of rule ${index + 1}`}
                  value={rule.ports.join(' ')}
                  size={14}
                  onChange={(event) =>
                    setDesign((d) => ({
                      ...d,
                      rules: d.rules.map((r, i) =>
                        i === index ? { ...r, ports: event.target.value.split(/[ ,]+/).filter(Boolean) } : r,
                      ),
                    }))
                  }
                />
                <button
                  type="button"
                  aria-label={`Remove rule ${index + 1}`}
                  onClick={() => setDesign((d) => ({ ...d, rules: d.rules.filter((_, i) => i !== index) }))}
                >
                  ✕
                </button>
              </div>
            ))}
            {design.rules.length === 0 && <p className="muted">No rules: networks cannot reach each other.</p>}
          </fieldset>
          {topIssues.length > 0 && (
            <section className="card" aria-labelledby="issues-h">
              <h2 id="issues-h">Problems</h2>
              <ul className={styles.issues} data-testid="issues">
                {topIssues.map((issue) => (
                  <li key={`${issue.path}:${issue.message}`}>
                    <button type="button" onClick={() => issue.node && select(issue.node)}>
                      {issue.path}: {issue.message}
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          )}
        </div>
      </div>
      <section className="card" style={{ marginTop: 12 }}>
        <label>
          Spec (YAML, kept in sync with the canvas both ways)
          <textarea
            className={styles.yaml}
            value={yamlText}
            onChange={(event) => onYaml(event.target.value)}
            spellCheck={false}
            aria-invalid={Boolean(yamlError) || undefined}
          />
        </label>
        {yamlError && <p className="error">YAML: {yamlError}</p>}
      </section>
    </>
  );
}

export default DesignerPage;
