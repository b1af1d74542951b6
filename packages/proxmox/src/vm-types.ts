import { decodeSshKeys, type ParamValue } from './encoding';
import { parsePropertyString, toBoolean, toNumber, toOptionalNumber, toOptionalString } from './normalize';

/** One row of `GET /nodes/{node}/qemu`, typed. */
export interface VmSummary {
  vmid: number;
  node: string;
  name: string;
  status: 'running' | 'stopped' | string;
  template: boolean;
  /** Config `lock` (`clone`, `create`, `backup`…), when one is held. */
  lock: string | undefined;
  cpus: number;
  maxmemBytes: number;
  maxdiskBytes: number;
  uptimeSeconds: number;
  tags: string[];
}

export function toVmSummary(raw: Record<string, unknown>, node: string): VmSummary {
  return {
    vmid: toNumber(raw.vmid),
    node: String(raw.node ?? node),
    name: String(raw.name ?? `VM ${raw.vmid}`),
    status: String(raw.status ?? 'unknown'),
    template: toBoolean(raw.template),
    lock: toOptionalString(raw.lock),
    cpus: toNumber(raw.cpus),
    maxmemBytes: toNumber(raw.maxmem),
    maxdiskBytes: toNumber(raw.maxdisk),
    uptimeSeconds: toNumber(raw.uptime),
    tags: typeof raw.tags === 'string' && raw.tags ? raw.tags.split(/[;,]/) : [],
  };
}

/** `GET …/status/current`, typed. */
export interface VmStatus {
  vmid: number;
  name: string;
  status: 'running' | 'stopped' | string;
  /** QMP's view (`running`, `paused`, `stopped`…). */
  qmpstatus: string | undefined;
  /** The config enables the guest agent. */
  agentEnabled: boolean;
  template: boolean;
  lock: string | undefined;
  uptimeSeconds: number;
  pid: number | undefined;
}

export function toVmStatus(raw: Record<string, unknown>): VmStatus {
  return {
    vmid: toNumber(raw.vmid),
    name: String(raw.name ?? `VM ${raw.vmid}`),
    status: String(raw.status ?? 'unknown'),
    qmpstatus: toOptionalString(raw.qmpstatus),
    agentEnabled: toBoolean(raw.agent),
    template: toBoolean(raw.template),
    lock: toOptionalString(raw.lock),
    uptimeSeconds: toNumber(raw.uptime),
    pid: toOptionalNumber(raw.pid),
  };
}

/** A `netN` entry, e.g. `virtio=BC:24:11:9F:E0:D5,bridge=vmbr0,tag=5`. */
export interface VmNic {
  model: string;
  macaddr: string | undefined;
  bridge: string | undefined;
  tag: number | undefined;
  firewall: boolean;
}

const nicModels = new Set([
  'virtio',
  'e1000',
  'e1000e',
  'rtl8139',
  'vmxnet3',
  'i82551',
  'i82557b',
  'i82559er',
  'ne2k_isa',
  'ne2k_pci',
  'pcnet',
]);

export function parseNic(value: string): VmNic {
  const [first = ''] = value.split(',');
  const [model = '', macaddr] = first.split('=');
  // `virtio=<MAC>,…` (how PVE writes it) or `model=virtio,macaddr=<MAC>,…` (how it may be read).
  const modelFirst = nicModels.has(model);
  const props = parsePropertyString(modelFirst ? value.slice(first.length + 1) : value, 'model');
  return {
    model: modelFirst ? model : (props.model ?? 'virtio'),
    macaddr: modelFirst ? macaddr : props.macaddr,
    bridge: props.bridge,
    tag: toOptionalNumber(props.tag),
    firewall: toBoolean(props.firewall),
  };
}

/** `GET …/config`, with the keys Glassdome reads typed and everything else in `raw`. */
export interface VmConfig {
  name: string | undefined;
  memoryMiB: number | undefined;
  cores: number | undefined;
  sockets: number | undefined;
  template: boolean;
  lock: string | undefined;
  /** The `agent` property enables the guest agent. */
  agentEnabled: boolean;
  /** Decoded (PVE returns them percent-encoded). */
  sshKeys: string[];
  ciuser: string | undefined;
  /** `net0` → parsed NIC. */
  nics: Record<string, VmNic>;
  /** `ipconfig0` → `ip=dhcp` etc., as written. */
  ipconfigs: Record<string, string>;
  digest: string | undefined;
  /** Every key as PVE returned it (cipassword stays masked). */
  raw: Record<string, string | number>;
}

export function toVmConfig(raw: Record<string, unknown>): VmConfig {
  const pick = (pattern: RegExp) => Object.entries(raw).filter(([key]) => pattern.test(key)) as [string, unknown][];
  const memory = toOptionalString(raw.memory);
  return {
    name: toOptionalString(raw.name),
    memoryMiB: memory === undefined ? undefined : toOptionalNumber(parsePropertyString(memory, 'current').current),
    cores: toOptionalNumber(raw.cores),
    sockets: toOptionalNumber(raw.sockets),
    template: toBoolean(raw.template),
    lock: toOptionalString(raw.lock),
    agentEnabled: raw.agent !== undefined && toBoolean(parsePropertyString(String(raw.agent), 'enabled').enabled),
    sshKeys: typeof raw.sshkeys === 'string' ? decodeSshKeys(raw.sshkeys) : [],
    ciuser: toOptionalString(raw.ciuser),
    nics: Object.fromEntries(pick(/^net\d+$/).map(([key, value]) => [key, parseNic(String(value))])),
    ipconfigs: Object.fromEntries(pick(/^ipconfig\d+$/).map(([key, value]) => [key, String(value)])),
    digest: toOptionalString(raw.digest),
    raw: Object.fromEntries(
      Object.entries(raw).map(([key, value]) => [key, typeof value === 'number' ? value : String(value)]),
    ),
  };
}

/**
 * Config keys to write. Any PVE key is accepted as is; `sshKeys` (plain key lines) is encoded the way
 * PVE demands, and `delete` lists keys to remove.
 */
export interface VmConfigUpdate {
  name?: string;
  memory?: number;
  cores?: number;
  sockets?: number;
  ciuser?: string;
  cipassword?: string;
  sshKeys?: readonly string[];
  nameserver?: string;
  searchdomain?: string;
  agent?: string | boolean;
  onboot?: boolean;
  description?: string;
  tags?: readonly string[];
  delete?: readonly string[];
  [key: string]: ParamValue;
}
