/**
 * VM config keys: which parameters the config/create endpoints accept, which privilege each needs
 * (qemu-server check_vm_modify_config_perm) and how a change is applied to the config.
 */
import { ApiError, fail, ParameterError } from '../errors';
import { isRoot, requirePrivileges } from '../permissions';
import { editedSdn } from '../sdn';
import type { Simulator } from '../sim';
import type { Vm } from '../state/types';
import { diskKeyPattern, netKeyPattern, parseNet, parseProperties } from '../state/vm-config';
import { allocateVolume, splitVolid } from '../storage';
import type { Identity } from '../tasks';
import type { ParamSpec } from '../validate';

const str: ParamSpec = { type: 'string', optional: true };
const int: ParamSpec = { type: 'integer', optional: true };
const bool: ParamSpec = { type: 'boolean', optional: true };

const fixedKeys: Record<string, ParamSpec> = {
  name: { type: 'string', optional: true, format: 'dns-name' },
  memory: str,
  balloon: int,
  shares: int,
  cores: { ...int, minimum: 1 },
  sockets: { ...int, minimum: 1 },
  vcpus: int,
  cpu: str,
  cpulimit: { type: 'number', optional: true },
  cpuunits: int,
  numa: bool,
  ostype: {
    ...str,
    enum: ['other', 'wxp', 'w2k', 'w2k3', 'w2k8', 'wvista', 'win7', 'win8', 'win10', 'win11', 'l24', 'l26', 'solaris'],
  },
  scsihw: { ...str, enum: ['lsi', 'lsi53c810', 'virtio-scsi-pci', 'virtio-scsi-single', 'megasas', 'pvscsi'] },
  bios: { ...str, enum: ['seabios', 'ovmf'] },
  machine: str,
  tags: str,
  onboot: bool,
  description: str,
  template: bool,
  agent: str,
  boot: str,
  bootdisk: str,
  vga: str,
  smbios1: str,
  vmgenid: str,
  meta: str,
  protection: bool,
  hotplug: str,
  kvm: bool,
  acpi: bool,
  tablet: bool,
  localtime: bool,
  args: str,
  hookscript: str,
  ciuser: str,
  cipassword: str,
  citype: { ...str, enum: ['configdrive2', 'nocloud', 'opennebula'] },
  ciupgrade: bool,
  cicustom: str,
  sshkeys: { type: 'string', optional: true, format: 'urlencoded' },
  nameserver: str,
  searchdomain: str,
  lock: str,
  startup: str,
  keyboard: str,
  affinity: str,
  'amd-sev': str,
  arch: { ...str, enum: ['x86_64', 'aarch64'] },
  audio0: str,
  autostart: bool,
  cdrom: str,
  freeze: bool,
  hugepages: { ...str, enum: ['any', '2', '1024'] },
  ivshmem: str,
  keephugepages: bool,
  migrate_downtime: { type: 'number', optional: true, minimum: 0 },
  migrate_speed: { ...int, minimum: 0 },
  reboot: bool,
  rng0: str,
  smp: { ...int, minimum: 1 },
  spice_enhancements: str,
  startdate: { ...str, pattern: /(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)/ },
  tdf: bool,
  vmstatestorage: { ...str, format: 'pve-storage-id' },
  watchdog: str,
};

/** How many of each numbered key qemu-server 8 has (`net0`…`net31`); a higher index is no key at all. */
const familySizes: Record<string, number> = {
  net: 32,
  ipconfig: 32,
  ide: 4,
  sata: 6,
  scsi: 31,
  virtio: 16,
  unused: 256,
  serial: 4,
  parallel: 3,
  usb: 14,
  hostpci: 16,
  numa: 8,
  virtiofs: 10,
};

/** The spec of a config key (fixed keys and the numbered families), or undefined if PVE has none. */
export function configKeySpec(name: string): ParamSpec | undefined {
  if (fixedKeys[name]) return fixedKeys[name];
  if (name === 'efidisk0' || name === 'tpmstate0') return str;
  const family = /^([a-z]+)(\d+)$/.exec(name);
  if (!family || !familySizes[family[1]!] || Number(family[2]) >= familySizes[family[1]!]!) return undefined;
  if (String(Number(family[2])) !== family[2]) return undefined;
  if (family[1] === 'parallel') return { ...str, pattern: /\/dev\/parport\d+|\/dev\/usb\/lp\d+/ };
  if (family[1] === 'serial') return { ...str, pattern: /(\/dev\/.+|socket)/ };
  return str;
}

/** qemu-server's check_vm_modify_config_perm groups; keys in none of them are root's alone. */
const privilegeGroups: Array<[RegExp, string[]]> = [
  [/^(cores|cpu|cpulimit|cpuunits|numa|smp|sockets|vcpus|numa\d+)$/, ['VM.Config.CPU']],
  [/^(memory|balloon|shares)$/, ['VM.Config.Memory']],
  [
    /^(acpi|hotplug|kvm|machine|scsihw|smbios1|tablet|vga|watchdog|audio0|rng0|serial\d+|usb\d+)$/,
    ['VM.Config.HWType'],
  ],
  [
    /^(agent|autostart|bios|description|keyboard|localtime|migrate_downtime|migrate_speed|name|onboot|ostype|protection|reboot|startdate|startup|tdf|template|tags)$/,
    ['VM.Config.Options'],
  ],
  [/^freeze$/, ['VM.PowerMgmt']],
  [/^(boot|bootdisk|vmstatestorage)$/, ['VM.Config.Disk']],
  [/^cdrom$/, ['VM.Config.CDROM']],
  [/^net\d+$/, ['VM.Config.Network']],
  [
    /^(ciuser|cipassword|citype|ciupgrade|cicustom|sshkeys|nameserver|searchdomain|ipconfig\d+)$/,
    ['VM.Config.Cloudinit', 'VM.Config.Network'],
  ],
];

/** Throws 403 unless `who` may set (or delete) every key of a config change. */
export function checkConfigPermissions(
  sim: Simulator,
  who: Identity,
  vm: Vm,
  keys: string[],
  values: Record<string, string>,
) {
  const path = `/vms/${vm.vmid}`;
  for (const key of keys) {
    if (diskKeyPattern.test(key) || /^unused\d+$/.test(key)) {
      requirePrivileges(sim.state, who, path, ['VM.Config.Disk']);
      const value = values[key];
      if (value?.includes('import-from=/') && !isRoot(who))
        throw new ApiError(403, 'Permission check failed (user != root@pam)');
      if (value && /^[^:,]+:\d+/.test(value)) {
        requirePrivileges(sim.state, who, `/storage/${splitVolid(value).storage}`, ['Datastore.AllocateSpace']);
      }
      continue;
    }
    const group = privilegeGroups.find(([pattern]) => pattern.test(key));
    if (!group) {
      if (who.userid !== 'root@pam' || who.tokenid) fail(`only root can set '${key}' config`);
      continue;
    }
    requirePrivileges(sim.state, who, path, group[1], { any: group[1].length > 1 });
    if (netKeyPattern.test(key) && values[key]) checkBridgeAccess(sim, who, values[key]);
  }
}

/** SDN.Use on the bridge (or vnet), and on its VLAN when tagged. */
export function checkBridgeAccess(sim: Simulator, who: Identity, netValue: string): void {
  const net = parseNet(netValue);
  if (!net.bridge) return;
  // qemu-server looks the vnet up in the edited SDN config, applied or not.
  const vnet = editedSdn(sim.state).vnets[net.bridge];
  const base = vnet ? `/sdn/zones/${vnet.zone}/${net.bridge}` : `/sdn/zones/localnetwork/${net.bridge}`;
  requirePrivileges(sim.state, who, net.tag ? `${base}/${net.tag}` : base, ['SDN.Use']);
}

const sshKeyLine = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-\S+)\s+[A-Za-z0-9+/]+={0,3}(\s.*)?$/;

function validateSshKeys(encoded: string): void {
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    fail('SSH public key validation error');
  }
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line && !line.startsWith('#') && !sshKeyLine.test(line)) fail('SSH public key validation error');
  }
}

/** Turns a disk request (`local-lvm:32`, `local-lvm:cloudinit`, `…:0,import-from=…`) into a real volume. */
async function materializeDisk(sim: Simulator, vm: Vm, key: string, value: string, log: (l: string) => void) {
  const props = parseProperties(value, 'file');
  const request = /^([^:]+):(\d+(\.\d+)?|cloudinit)$/.exec(props.file ?? '');
  if (!request) return value;
  const [, storageId, size] = request as unknown as [string, string, string];
  const rest = value
    .split(',')
    .slice(1)
    .filter((part) => !part.startsWith('import-from='));
  let volid: string;
  let sizeText: string;
  if (size === 'cloudinit') {
    volid = await allocateVolume(sim, vm.node, storageId, vm.vmid, 4 * 1024 ** 2, 'cloudinit');
    sizeText = '';
    if (!rest.includes('media=cdrom')) rest.unshift('media=cdrom');
  } else {
    if (props['import-from'] && Number(size) !== 0) {
      throw new ParameterError({
        [key]: "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>",
      });
    }
    const bytes = props['import-from'] ? 2252 * 1024 ** 2 : Number(size) * 1024 ** 3;
    volid = await allocateVolume(sim, vm.node, storageId, vm.vmid, bytes);
    sizeText = props['import-from'] ? '2252M' : `${size}G`;
  }
  const final = [volid, ...rest, ...(sizeText ? [`size=${sizeText}`] : [])].join(',');
  log(`${key}: successfully created disk '${final}'`);
  return final;
}

/** Applies a config change (values and `delete` list) to a VM, allocating and freeing disks. */
export async function applyConfigChange(
  sim: Simulator,
  vm: Vm,
  values: Record<string, string>,
  deletes: string[],
  log: (line: string) => void,
): Promise<void> {
  for (const key of deletes) {
    const value = vm.config[key];
    if (value === undefined) continue;
    delete vm.config[key];
    if (diskKeyPattern.test(key) && value.includes('cloudinit')) freeCloudinit(sim, vm, value);
    else if (diskKeyPattern.test(key) && !value.includes('media=cdrom'))
      vm.config[nextUnused(vm)] = value.split(',')[0]!;
  }
  for (const [key, raw] of Object.entries(values)) {
    let value = raw;
    if (key === 'sshkeys') validateSshKeys(value);
    if (netKeyPattern.test(key)) value = withMac(sim, value);
    if (diskKeyPattern.test(key)) value = await materializeDisk(sim, vm, key, value, log);
    vm.config[key] = value;
  }
}

function freeCloudinit(sim: Simulator, vm: Vm, value: string): void {
  const { storage, name } = splitVolid(value.split(',')[0]!);
  const store = sim.state.storages[`${vm.node}/${storage}`];
  if (store) delete store.volumes[name];
}

function nextUnused(vm: Vm): string {
  for (let n = 0; ; n++) if (!vm.config[`unused${n}`]) return `unused${n}`;
}

/** Adds a generated MAC when a `netN` value names only the model. */
export function withMac(sim: Simulator, value: string): string {
  const parts = value.split(',');
  const first = parts[0]!;
  const props = parseProperties(first, 'model');
  if (first.includes('=') && !first.startsWith('model=')) return value;
  const model = props.model ?? first;
  const mac = parseProperties(value).macaddr ?? sim.random.mac();
  return [`${model}=${mac}`, ...parts.slice(1).filter((part) => !part.startsWith('macaddr='))].join(',');
}
