/**
 * The lab designer's state and its two-way mapping to a lab spec (the same document `POST /labs`
 * takes as JSON or YAML). Pure functions, tested beside this file.
 */

export interface Point {
  x: number;
  y: number;
}

export interface DesignNetwork {
  id: string;
  name: string;
  cidr: string;
  position: Point;
}

export interface DesignVm {
  id: string;
  name: string;
  os: string;
  /** In spec order: net0, net1, …; `ip` empty means Glassdome assigns one. */
  networks: { name: string; ip?: string }[];
  /** Entry names this VM's post-configuration waits for. */
  dependsOn: string[];
  cpus?: number;
  memoryMiB?: number;
  diskGiB?: number;
  user?: string;
  sshKeys: string[];
  /** Shell commands run as root after boot, in order. */
  provision: string[];
  position: Point;
}

export interface DesignRule {
  from: string;
  to: string;
  ports: string[];
}

export interface Design {
  name: string;
  ttl: string;
  copies: number;
  networks: DesignNetwork[];
  vms: DesignVm[];
  rules: DesignRule[];
}

export const NETWORK_SIZE = { width: 300, height: 320 };

let counter = 0;
export function newId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export function emptyDesign(): Design {
  return {
    name: 'my-lab',
    ttl: '8h',
    copies: 1,
    networks: [{ id: newId('net'), name: 'lan', cidr: '10.10.0.0/24', position: { x: 0, y: 0 } }],
    vms: [],
    rules: [],
  };
}

/** A name not yet taken: `base`, else `base-2`, `base-3`, … */
export function freeName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const clean =
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'vm';
  if (!used.has(clean)) return clean;
  for (let n = 2; ; n++) if (!used.has(`${clean}-${n}`)) return `${clean}-${n}`;
}

/** The next free 10.x.0.0/24 for a new network. */
export function freeCidr(design: Design): string {
  const used = new Set(design.networks.map((network) => network.cidr));
  for (let n = 10; n < 250; n += 10) if (!used.has(`10.${n}.0.0/24`)) return `10.${n}.0.0/24`;
  return '10.250.0.0/24';
}

/** The room a VM node takes on the canvas, with a little margin: nodes placed closer overlap. */
export const VM_SIZE = { width: 190, height: 80 };

/**
 * Where a new VM node goes: at `preferred` (a drop point) when no node is there, else at the first
 * free slot of its network (a column of slots down the zone, continuing below it), so a new node
 * never lands on top of another and hides it.
 */
export function freeSpot(
  vms: readonly { position: Point }[],
  network: DesignNetwork | undefined,
  preferred?: Point,
): Point {
  const taken = (point: Point) =>
    vms.some(
      (vm) => Math.abs(vm.position.x - point.x) < VM_SIZE.width && Math.abs(vm.position.y - point.y) < VM_SIZE.height,
    );
  if (preferred && !taken(preferred)) return preferred;
  const origin = network?.position ?? { x: 0, y: 0 };
  for (let row = 0; ; row++) {
    const slot = { x: origin.x + 40, y: origin.y + 50 + row * (VM_SIZE.height + 5) };
    if (!taken(slot)) return slot;
  }
}

/** The network whose zone contains `point`, if any. */
export function networkAt(design: Design, point: Point): DesignNetwork | undefined {
  return design.networks.find(
    (network) =>
      point.x >= network.position.x &&
      point.x <= network.position.x + NETWORK_SIZE.width &&
      point.y >= network.position.y &&
      point.y <= network.position.y + NETWORK_SIZE.height,
  );
}

/** The spec the design stands for, with only what the user set (defaults stay the API's). */
export function specOf(design: Design): Record<string, unknown> {
  return {
    name: design.name,
    ttl: design.ttl,
    copies: design.copies,
    networks: design.networks.map((network) => ({ name: network.name, cidr: network.cidr })),
    ...(design.rules.length > 0 ? { rules: design.rules.map((rule) => ({ ...rule })) } : {}),
    vms: design.vms.map((vm) => {
      const cloudInit: Record<string, unknown> = {};
      if (vm.user) cloudInit.user = vm.user;
      if (vm.sshKeys.length > 0) cloudInit.sshKeys = vm.sshKeys;
      return {
        name: vm.name,
        os: vm.os,
        ...(vm.cpus !== undefined ? { cpus: vm.cpus } : {}),
        ...(vm.memoryMiB !== undefined ? { memoryMiB: vm.memoryMiB } : {}),
        ...(vm.diskGiB !== undefined ? { diskGiB: vm.diskGiB } : {}),
        networks: vm.networks.map((nic) => (nic.ip ? { name: nic.name, ip: nic.ip } : nic.name)),
        ...(vm.dependsOn.length > 0 ? { dependsOn: vm.dependsOn } : {}),
        ...(Object.keys(cloudInit).length > 0 ? { cloudInit } : {}),
        ...(vm.provision.length > 0 ? { provision: vm.provision.map((run) => ({ run })) } : {}),
      };
    }),
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * The design a spec (typed in the YAML view) stands for. Nodes keep their place and id by name, so
 * editing text does not rearrange the canvas; new ones are placed beside the others. Throws a plain
 * Error naming what is not understood (the API's validation does the rest).
 */
export function designOf(spec: unknown, previous: Design): Design {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('the spec must be a mapping');
  const source = spec as Record<string, unknown>;
  const oldNetworks = new Map(previous.networks.map((network) => [network.name, network]));
  const oldVms = new Map(previous.vms.map((vm) => [vm.name, vm]));
  const networks = (Array.isArray(source.networks) ? source.networks : []).map((entry, index): DesignNetwork => {
    const network = (entry ?? {}) as Record<string, unknown>;
    const name = String(network.name ?? `net-${index + 1}`);
    const old = oldNetworks.get(name);
    return {
      id: old?.id ?? newId('net'),
      name,
      cidr: String(network.cidr ?? ''),
      position: old?.position ?? { x: index * (NETWORK_SIZE.width + 80), y: 0 },
    };
  });
  const vmEntries = Array.isArray(source.vms) ? source.vms : [];
  const namesInSpec = new Set(
    vmEntries.map((entry, index) => String((entry as { name?: unknown })?.name ?? `vm-${index + 1}`)),
  );
  // Nodes a new one must stay clear of: those kept from the canvas, and those placed before it.
  const placed: { position: Point }[] = previous.vms.filter((vm) => namesInSpec.has(vm.name));
  const vms = vmEntries.map((entry, index): DesignVm => {
    const vm = (entry ?? {}) as Record<string, unknown>;
    const name = String(vm.name ?? `vm-${index + 1}`);
    const old = oldVms.get(name);
    const cloudInit = (vm.cloudInit ?? {}) as Record<string, unknown>;
    const nics = (Array.isArray(vm.networks) ? vm.networks : []).map((nic) =>
      typeof nic === 'string'
        ? { name: nic }
        : {
            name: String((nic as Record<string, unknown>)?.name ?? ''),
            ...((nic as Record<string, unknown>)?.ip ? { ip: String((nic as Record<string, unknown>).ip) } : {}),
          },
    );
    const home = networks.find((network) => network.name === nics[0]?.name);
    const design: DesignVm = {
      id: old?.id ?? newId('vm'),
      name,
      os: String(vm.os ?? 'ubuntu-22.04'),
      networks: nics,
      dependsOn: strings(vm.dependsOn),
      sshKeys: strings(cloudInit.sshKeys),
      provision: (Array.isArray(vm.provision) ? vm.provision : [])
        .map((step) =>
          step && typeof step === 'object' && 'run' in step ? String((step as { run: unknown }).run) : '',
        )
        .filter(Boolean),
      // Kept where it was; a new one at a free place in its network, clear of every node kept or placed.
      position: old?.position ?? freeSpot(placed, home),
    };
    if (!old) placed.push(design);
    const cpus = num(vm.cpus);
    const memory = num(vm.memoryMiB);
    const disk = num(vm.diskGiB);
    if (cpus !== undefined) design.cpus = cpus;
    if (memory !== undefined) design.memoryMiB = memory;
    if (disk !== undefined) design.diskGiB = disk;
    if (typeof cloudInit.user === 'string') design.user = cloudInit.user;
    return design;
  });
  const rules = (Array.isArray(source.rules) ? source.rules : []).map((entry) => {
    const rule = (entry ?? {}) as Record<string, unknown>;
    return { from: String(rule.from ?? ''), to: String(rule.to ?? ''), ports: strings(rule.ports) };
  });
  return {
    name: String(source.name ?? previous.name),
    ttl: String(source.ttl ?? previous.ttl),
    copies: num(source.copies) ?? 1,
    networks,
    vms,
    rules,
  };
}

export interface PinnedIssue {
  /** The canvas node the issue belongs to (`vm:<id>` or `net:<id>`), when it names one. */
  node?: string;
  /** The field inside that node, or the top-level field: `memoryMiB`, `networks.0`, `name`, `rules.1.ports.0`. */
  field: string;
  path: string;
  message: string;
}

/** Pins the API's field issues (`vms.2.memoryMiB`) to the designer's nodes and fields. */
export function pinIssues(design: Design, issues: { path: string; message: string }[]): PinnedIssue[] {
  return issues.map((issue) => {
    const parts = issue.path.split('.');
    const index = Number(parts[1]);
    if (parts[0] === 'vms' && design.vms[index]) {
      return { node: `vm:${design.vms[index].id}`, field: parts.slice(2).join('.') || 'name', ...issue };
    }
    if (parts[0] === 'networks' && design.networks[index]) {
      return { node: `net:${design.networks[index].id}`, field: parts.slice(2).join('.') || 'name', ...issue };
    }
    return { field: issue.path, ...issue };
  });
}

/** The VM entries on a dry run's critical path (task ids `c0:vm:<instance>:provision`). */
export function criticalVms(tasks: string[], design: Design): Set<string> {
  const names = new Set<string>();
  for (const task of tasks) {
    const match = /^c\d+:vm:(.+):(provision|configure)$/.exec(task);
    if (!match) continue;
    const instance = match[1]!;
    const entry = design.vms.find((vm) => vm.name === instance || instance.startsWith(`${vm.name}-`));
    if (entry) names.add(entry.name);
  }
  return names;
}

/** Renames an entry everywhere it is referred to (dependsOn, rules). */
export function renameVm(design: Design, id: string, name: string): Design {
  const old = design.vms.find((vm) => vm.id === id)?.name;
  return {
    ...design,
    vms: design.vms.map((vm) =>
      vm.id === id
        ? { ...vm, name }
        : { ...vm, dependsOn: vm.dependsOn.map((dependency) => (dependency === old ? name : dependency)) },
    ),
    rules: design.rules.map((rule) => ({
      ...rule,
      from: rule.from === old ? name : rule.from,
      to: rule.to === old ? name : rule.to,
    })),
  };
}

export function renameNetwork(design: Design, id: string, name: string): Design {
  const old = design.networks.find((network) => network.id === id)?.name;
  return {
    ...design,
    networks: design.networks.map((network) => (network.id === id ? { ...network, name } : network)),
    vms: design.vms.map((vm) => ({
      ...vm,
      networks: vm.networks.map((nic) => (nic.name === old ? { ...nic, name } : nic)),
    })),
    rules: design.rules.map((rule) => ({
      ...rule,
      from: rule.from === old ? name : rule.from,
      to: rule.to === old ? name : rule.to,
    })),
  };
}
