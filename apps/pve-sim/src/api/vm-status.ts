/** The status fields qemu-server's vmstatus reports for a VM, with PVE's types. */
import type { Vm } from '../state/types';
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

/** One item of `GET /nodes/{node}/qemu`. */
export function vmListItem(vm: Vm, now = Date.now()): Record<string, unknown> {
  const running = vm.status === 'running';
  const maxmem = memoryMiB(vm.config) * 1024 ** 2;
  const item: Record<string, unknown> = {
    vmid: vm.vmid,
    name: vm.config.name ?? `VM ${vm.vmid}`,
    status: vm.status,
    cpus: cpus(vm),
    maxmem,
    maxdisk: bootDiskBytes(vm),
    disk: 0,
    mem: running ? Math.floor(maxmem * 0.42) : 0,
    cpu: running ? 0.0123 : 0,
    uptime: running && vm.startedAt ? Math.floor((now - vm.startedAt) / 1000) : 0,
    netin: running ? 1024 : 0,
    netout: running ? 512 : 0,
  };
  if (running) item.pid = vm.pid;
  if (vm.config.template === '1') item.template = 1;
  if (Object.keys(vm.config).some((key) => /^serial\d+$/.test(key))) item.serial = 1;
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
