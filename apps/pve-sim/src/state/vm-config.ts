/** Reading and writing VM config values the way qemu-server formats them. */
import { createHash } from 'node:crypto';
import type { VmConfig } from './types';

/** Disk slots whose values are volumes. */
export const diskKeyPattern = /^(scsi|virtio|sata|ide)\d+$|^(efidisk|tpmstate)0$/;
export const netKeyPattern = /^net\d+$/;

/** Keys PVE's schema types as integer or boolean, which JSON therefore carries as numbers. */
const numericKeys = new Set([
  'cores',
  'sockets',
  'vcpus',
  'balloon',
  'shares',
  'numa',
  'onboot',
  'template',
  'protection',
  'cpuunits',
  'ciupgrade',
  'acpi',
  'kvm',
  'tablet',
  'reboot',
  'freeze',
  'localtime',
  'migrate_downtime',
  'migrate_speed',
]);

/**
 * Splits a property string (`virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10`) into its parts; the
 * first part without `=` is stored under `defaultKey` (the volume of a disk, e.g.).
 */
export function parseProperties(value: string, defaultKey = 'value'): Record<string, string> {
  const out: Record<string, string> = {};
  value.split(',').forEach((part, index) => {
    const eq = part.indexOf('=');
    if (eq < 0) out[index === 0 ? defaultKey : part] = part;
    else out[part.slice(0, eq)] = part.slice(eq + 1);
  });
  return out;
}

/** The model and MAC of a `netN` value (`virtio=BC:…` or `model=virtio,macaddr=…`). */
export function parseNet(value: string): { model: string; mac?: string; bridge?: string; tag?: string } {
  const props = parseProperties(value, 'model');
  const model = ['virtio', 'e1000', 'rtl8139', 'vmxnet3', 'e1000e'].find((m) => m in props) ?? props.model ?? 'virtio';
  const mac = props[model] && props[model] !== model ? props[model] : props.macaddr;
  const net: { model: string; mac?: string; bridge?: string; tag?: string } = { model };
  if (mac) net.mac = mac;
  if (props.bridge) net.bridge = props.bridge;
  if (props.tag) net.tag = props.tag;
  return net;
}

/** `2252M`, `32G`, `4M`, `+8G`… → bytes. */
export function sizeToBytes(size: string): number {
  const match = /^\+?(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size);
  if (!match) return Number.NaN;
  const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  return Math.round(Number(match[1]) * units[match[2]!]!);
}

/** Bytes → PVE's compact size text (`2252M`, `32G`). */
export function bytesToSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${Math.ceil(bytes / 1024 ** 2)}M`;
}

/** Volume id and size of a disk value, or undefined for a cdrom / `none`. */
export function parseDisk(value: string): { volid: string; sizeBytes: number; media?: string } | undefined {
  const props = parseProperties(value, 'file');
  if (!props.file || props.file === 'none' || (props.media === 'cdrom' && !props.file.includes('cloudinit'))) {
    return undefined;
  }
  const disk: { volid: string; sizeBytes: number; media?: string } = {
    volid: props.file,
    sizeBytes: props.size ? sizeToBytes(props.size) : 0,
  };
  if (props.media) disk.media = props.media;
  return disk;
}

/** The disks of a config, in sorted key order as qemu-server walks them. */
export function disksOf(
  config: VmConfig,
): Array<{ key: string; volid: string; sizeBytes: number; cloudinit: boolean }> {
  return Object.keys(config)
    .filter((key) => diskKeyPattern.test(key))
    .sort()
    .flatMap((key) => {
      const disk = parseDisk(config[key]!);
      return disk ? [{ key, ...disk, cloudinit: disk.volid.includes('cloudinit') }] : [];
    });
}

/** SHA-1 of the config text, the `digest` clients send back for optimistic locking. */
export function configDigest(config: VmConfig): string {
  const text = Object.keys(config)
    .sort()
    .map((key) => `${key}: ${config[key]}\n`)
    .join('');
  return createHash('sha1').update(text).digest('hex');
}

/** A config as the API returns it: integer/boolean keys as numbers, everything else as strings. */
export function typedConfig(config: VmConfig): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === 'cipassword') out[key] = '**********';
    else out[key] = numericKeys.has(key) && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return out;
}

/** Whether the config enables the guest agent (`agent: 1` or `agent: enabled=1,…`). */
export function agentEnabled(config: VmConfig): boolean {
  const value = config.agent;
  if (value === undefined) return false;
  const props = parseProperties(value, 'enabled');
  return props.enabled === '1';
}

/** Memory in MiB from `memory: [current=]<MiB>`, default 512. */
export function memoryMiB(config: VmConfig): number {
  const value = config.memory;
  if (!value) return 512;
  return Number(parseProperties(value, 'current').current ?? 512);
}
