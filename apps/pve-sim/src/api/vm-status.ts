/** The status fields qemu-server's vmstatus reports for a VM, with PVE's types. */
import type { Vm, VmConfig } from '../state/types';
import { agentEnabled, disksOf, memoryMiB, parseProperties } from '../state/vm-config';

function cpus(vm: Vm): number {
  const c = vm.config;
  if (c.vcpus) return Number(c.vcpus);
  return Number(c.sockets ?? 1) * Number(c.cores ?? 1);
}

function bootDiskBytes(vm: Vm): number {
  const order = vm.config.boot ? parseProperties(vm.config.boot, 'legacy').order : undefined;
  const disks = disksOf(vm.config).filter((d) => !d.cloudinit);
  const first = order?.split(';').find((key) => disks.some((d) => d.key === key));
  return (disks.find((d) => d.key === (first ?? vm.config.bootdisk)) ?? disks[0])?.sizeBytes ?? 0;
}

/** What a list item takes from a VM's config (parsing disks, memory and boot order is the costly part). */
interface ConfigFacts {
  name: string;
  cpus: number;
  maxmem: number;
  maxdisk: number;
  serial: boolean;
}

/**
 * Facts per config object, with the keys and values they were read from: a list of 10,000 VMs reads
 * them again only for configs whose content changed since (any key or value), so the answer is
 * always the one a fresh read would give.
 */
const factsOf = new WeakMap<VmConfig, { vmid: number; content: string[]; facts: ConfigFacts }>();

/** A config's keys and values in order, interleaved (key, value, key, …): one array to compare against. */
export function contentOf(config: VmConfig): string[] {
  const content: string[] = [];
  for (const key in config) content.push(key, config[key]!);
  return content;
}

/** Whether `config` holds exactly this content (`contentOf`): these keys, in this order, with these values. */
export function sameContent(config: VmConfig, content: string[]): boolean {
  let index = 0;
  for (const key in config) {
    if (content[index] !== key || content[index + 1] !== config[key]) return false;
    index += 2;
  }
  return index === content.length;
}

function configFacts(vm: Vm): ConfigFacts {
  const cached = factsOf.get(vm.config);
  if (cached && cached.vmid === vm.vmid && sameContent(vm.config, cached.content)) return cached.facts;
  const keys = Object.keys(vm.config);
  const facts: ConfigFacts = {
    name: vm.config.name ?? `VM ${vm.vmid}`,
    cpus: cpus(vm),
    maxmem: memoryMiB(vm.config) * 1024 ** 2,
    maxdisk: bootDiskBytes(vm),
    serial: keys.some((key) => /^serial\d+$/.test(key)),
  };
  factsOf.set(vm.config, { vmid: vm.vmid, content: contentOf(vm.config), facts });
  return facts;
}

/** Seconds a running VM has been up. */
export function uptimeOf(vm: Vm, now: number): number {
  return vm.status === 'running' && vm.startedAt ? Math.floor((now - vm.startedAt) / 1000) : 0;
}

/** One item of `GET /nodes/{node}/qemu`. */
export function vmListItem(vm: Vm, now = Date.now()): Record<string, unknown> {
  const running = vm.status === 'running';
  const facts = configFacts(vm);
  const item: Record<string, unknown> = {
    vmid: vm.vmid,
    name: facts.name,
    status: vm.status,
    cpus: facts.cpus,
    maxmem: facts.maxmem,
    maxdisk: facts.maxdisk,
    disk: 0,
    mem: running ? Math.floor(facts.maxmem * 0.42) : 0,
    cpu: running ? 0.0123 : 0,
    uptime: uptimeOf(vm, now),
    netin: running ? 1024 : 0,
    netout: running ? 512 : 0,
  };
  if (running) item.pid = vm.pid;
  if (vm.config.template === '1') item.template = 1;
  if (facts.serial) item.serial = 1;
  if (vm.config.lock) item.lock = vm.config.lock;
  if (vm.config.tags) item.tags = vm.config.tags;
  return item;
}

/** `GET …/status/current`: the list item with full=1 extras, HA state and the agent flag. */
export function vmCurrentStatus(vm: Vm): Record<string, unknown> {
  const item = vmListItem(vm);
  item.qmpstatus = vm.status;
  item.ha = { managed: 0 };
  if (agentEnabled(vm.config)) item.agent = 1;
  if (vm.status === 'running') {
    Object.assign(item, {
      'running-machine': 'pc-i440fx-8.1+pve0',
      'running-qemu': '8.1.5',
      balloon: item.maxmem,
      freemem: Math.floor(Number(item.maxmem) * 0.5),
      diskread: 0,
      diskwrite: 0,
      nics: { [`tap${vm.vmid}i0`]: { netin: 1024, netout: 512 } },
    });
  }
  return item;
}
