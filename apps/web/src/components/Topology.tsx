import '@xyflow/react/dist/style.css';
import {
  Background,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
  useNodesInitialized,
  useNodesState,
  useReactFlow,
} from '@xyflow/react';
import { useEffect } from 'react';
import { accessOf, addressesOf, sshCommand, type Topology as TopologyData, type Vm } from '../api/types';
import { osMark } from './os';
import styles from './Topology.module.css';

export interface NetworkNodeData extends Record<string, unknown> {
  name: string;
  cidr: string;
  detail?: string;
}

export interface VmNodeData extends Record<string, unknown> {
  name: string;
  os?: string;
  addresses: string[];
  /** How Glassdome and the VM's users reach it: SSH on its management address. */
  access?: string;
  status?: string;
  issue?: string;
  critical?: boolean;
  selected?: boolean;
}

export function NetworkNode({ data }: NodeProps<Node<NetworkNodeData>>) {
  return (
    <div className={styles.network} data-testid={`network-${data.name}`}>
      <Handle type="target" position={Position.Left} />
      <strong>{data.name}</strong> <span className="mono">{data.cidr}</span>
      {data.detail && <div>{data.detail}</div>}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

export function VmNode({ data }: NodeProps<Node<VmNodeData>>) {
  const mark = osMark(data.os);
  const classes = [
    styles.vm,
    data.critical && styles.critical,
    data.issue && styles.invalid,
    data.selected && styles.selected,
  ];
  return (
    <div
      className={classes.filter(Boolean).join(' ')}
      data-status={data.status ?? 'planned'}
      data-testid={`vm-node-${data.name}`}
    >
      <Handle type="target" position={Position.Top} />
      <div className={styles.head}>
        <span className={styles.os} style={{ background: mark.color }} aria-hidden="true">
          {mark.text}
        </span>
        {data.name}
      </div>
      {data.addresses.map((address) => (
        <div key={address} className={styles.addr}>
          {address}
        </div>
      ))}
      {data.access && (
        <div className={styles.access} data-testid={`vm-access-${data.name}`} title="management access (SSH)">
          {data.access}
        </div>
      )}
      {data.status && <div data-testid={`vm-status-${data.name}`}>{data.status}</div>}
      {data.issue && <div className={styles.issue}>{data.issue}</div>}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

export const nodeTypes = { network: NetworkNode, vm: VmNode };

const NET_W = 400;
const NET_GAP = 120;
const VM_H = 112;

/** Lays a lab out: networks side by side, single-homed VMs inside theirs, dual-homed ones below, joined to each. */
export function layoutTopology(topology: TopologyData, vms: Vm[] | undefined) {
  const byName = new Map((vms ?? []).map((vm) => [vm.name, vm]));
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  const inside = new Map<string, number>();
  let tallest = 0;
  for (const network of topology.networks) {
    const members = topology.vms.filter((vm) => vm.nics.length === 1 && vm.nics[0]!.network === network.name);
    inside.set(network.name, members.length);
    tallest = Math.max(tallest, 70 + members.length * VM_H);
  }
  topology.networks.forEach((network, index) => {
    const egress = Array.isArray(network.egress) ? `egress: ${network.egress.join(', ')}` : `egress ${network.egress}`;
    nodes.push({
      id: `net:${network.name}`,
      type: 'network',
      position: { x: index * (NET_W + NET_GAP), y: 0 },
      style: { width: NET_W, height: tallest },
      data: { name: network.name, cidr: network.cidr, detail: `${egress}; intra ${network.intra}` },
      draggable: false,
      selectable: false,
    });
  });
  const placed = new Map<string, number>();
  let below = 0;
  for (const vm of topology.vms) {
    const live = byName.get(vm.name);
    // The VM record's own addresses where it has them, else the ones the spec assigns.
    const recorded = new Map(live ? addressesOf(live).map((entry) => [entry.network, entry.address]) : []);
    const access = live ? accessOf(live) : undefined;
    const data: VmNodeData = {
      name: vm.name,
      ...(vm.os ? { os: vm.os } : {}),
      addresses: vm.nics.map((nic) => {
        const address = recorded.get(nic.network) ?? nic.address;
        return `${nic.network} ${address.includes('/') ? address : `${address}/${nic.prefix}`}`;
      }),
      ...(access ? { access: sshCommand(access) } : {}),
      ...(live ? { status: live.status } : {}),
    };
    if (vm.nics.length === 1) {
      const network = vm.nics[0]!.network;
      const slot = placed.get(network) ?? 0;
      placed.set(network, slot + 1);
      nodes.push({
        id: `vm:${vm.name}`,
        type: 'vm',
        parentId: `net:${network}`,
        extent: 'parent',
        position: { x: 30, y: 50 + slot * VM_H },
        data,
      });
    } else {
      const first = topology.networks.findIndex((network) => network.name === vm.nics[0]?.network);
      nodes.push({
        id: `vm:${vm.name}`,
        type: 'vm',
        position: { x: first * (NET_W + NET_GAP) + NET_W - 40, y: tallest + 60 + below * VM_H },
        data,
      });
      below++;
      for (const nic of vm.nics) {
        edges.push({
          id: `nic:${vm.name}:${nic.network}`,
          source: `vm:${vm.name}`,
          target: `net:${nic.network}`,
          style: { stroke: '#5c7594' },
          label: nic.address,
        });
      }
    }
  }
  const entryNodes = (name: string) => {
    if (topology.networks.some((network) => network.name === name)) return [`net:${name}`];
    return topology.vms.filter((vm) => vm.entry === name).map((vm) => `vm:${vm.name}`);
  };
  for (const vm of topology.vms) {
    for (const dependency of vm.dependsOn) {
      for (const source of entryNodes(dependency)) {
        edges.push({
          id: `dep:${source}:${vm.name}`,
          source,
          target: `vm:${vm.name}`,
          label: 'depends on',
          style: { strokeDasharray: '6 4', stroke: '#9aa7b6' },
          markerEnd: { type: MarkerType.ArrowClosed },
        });
      }
    }
  }
  topology.rules.forEach((rule, index) => {
    for (const source of entryNodes(rule.from))
      for (const target of entryNodes(rule.to))
        edges.push({
          id: `rule:${index}:${source}:${target}`,
          source,
          target,
          label: rule.ports.join(' '),
          animated: true,
          style: { stroke: '#e3b341' },
          markerEnd: { type: MarkerType.ArrowClosed, color: '#e3b341' },
        });
  });
  return { nodes, edges, unplacedBelow: below };
}

/**
 * Fits the whole lab in view whenever what is drawn changes size: nodes grow a line as a VM gets its
 * access and status, and another copy may be selected; `fitView` alone fits only the first render.
 */
function FitOnChange({ signature }: { signature: string }) {
  const flow = useReactFlow();
  const initialized = useNodesInitialized();
  useEffect(() => {
    if (!initialized || signature === '') return;
    const frame = requestAnimationFrame(() => void flow.fitView({ padding: 0.12 }));
    return () => cancelAnimationFrame(frame);
  }, [initialized, signature, flow]);
  return null;
}

export function TopologyCanvas({
  topology,
  vms,
  selected,
  onSelectVm,
}: {
  topology: TopologyData;
  vms: Vm[] | undefined;
  /** The VM whose actions are shown (by spec name), drawn selected. */
  selected?: string | undefined;
  /** A VM node clicked, or chosen with the keyboard (Tab to it, Enter). */
  onSelectVm?: (name: string) => void;
}) {
  const { nodes: drawn, edges } = layoutTopology(topology, vms);
  const laid = drawn.map((node) =>
    node.type === 'vm' && (node.data as VmNodeData).name === selected
      ? { ...node, data: { ...node.data, selected: true } }
      : node,
  );
  const signature = laid
    .map((node) => {
      const data = node.data as Partial<VmNodeData>;
      return `${node.id}:${data.status ?? ''}:${data.access ?? ''}`;
    })
    .join('|');
  // React Flow keeps a node's measured size on the node object it was given. A layout made afresh on
  // every change would drop it, and a node whose size then does not change is never measured again
  // and stays hidden; so each new layout takes over the sizes measured so far.
  const layout = JSON.stringify(laid);
  const [nodes, setNodes, onNodesChange] = useNodesState(laid);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `layout` is `laid`, serialised.
  useEffect(() => {
    setNodes((shown) => {
      const measured = new Map(shown.map((node) => [node.id, node.measured]));
      return laid.map((node) => {
        const size = measured.get(node.id);
        return size ? { ...node, measured: size } : node;
      });
    });
  }, [layout, setNodes]);
  return (
    <figure className={styles.canvas} aria-label="Lab topology" style={{ margin: 0 }}>
      <ReactFlow
        nodes={nodes}
        onNodesChange={onNodesChange}
        onSelectionChange={({ nodes: chosen }) => {
          const vm = chosen.find((node) => node.type === 'vm');
          if (vm) onSelectVm?.((vm.data as VmNodeData).name);
        }}
        onNodeClick={(_, node) => {
          if (node.type === 'vm') onSelectVm?.((node.data as VmNodeData).name);
        }}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        nodesConnectable={false}
        proOptions={{ hideAttribution: true }}
        colorMode="dark"
      >
        <Background />
        <Controls showInteractive={false} />
        <FitOnChange signature={`${vms?.[0]?.id ?? ''}|${signature}`} />
      </ReactFlow>
    </figure>
  );
}
