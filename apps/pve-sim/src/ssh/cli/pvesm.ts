/** `pvesm` (pve-storage's CLI): `status` and `list`, in their fixed-width text formats. */
import { type CliCommand, type CliContext, callApi } from './program';

interface StorageStatus {
  storage: string;
  type: string;
  active?: number;
  enabled?: number;
  total?: number;
  used?: number;
  avail?: number;
}

interface VolumeEntry {
  volid: string;
  format?: string;
  content?: string;
  size?: number;
  vmid?: number;
}

/** `pvesm status`: sizes in KiB, name column as wide as the longest id plus one. */
async function storageStatus(context: CliContext, options: Record<string, string>) {
  const list = (await callApi(context, 'GET', `/nodes/${context.node}/storage`, options)) as StorageStatus[];
  const sorted = [...list].sort((a, b) => a.storage.localeCompare(b.storage));
  const width = Math.max(...sorted.map((entry) => entry.storage.length), 4) + 1;
  const head = (cells: string[]) =>
    `${cells[0]!.padEnd(width)} ${cells[1]!.padStart(10)} ${cells[2]!.padStart(10)} ${cells
      .slice(3, 6)
      .map((cell) => cell.padStart(15))
      .join(' ')} ${cells[6]!.padStart(8)}\n`;
  let out = head(['Name', 'Type', 'Status', 'Total', 'Used', 'Available', '%']);
  for (const entry of sorted) {
    const kib = (bytes: number | undefined) => String(Math.floor((bytes ?? 0) / 1024));
    const state = entry.enabled === 0 ? 'disabled' : entry.active ? 'active' : 'inactive';
    const percent =
      state === 'active' && entry.total
        ? `${((100 * (entry.used ?? 0)) / entry.total).toFixed(2).padStart(7)}%`
        : 'N/A';
    const sizes = state === 'active' ? [entry.total, entry.used, entry.avail].map(kib) : ['0', '0', '0'];
    out += head([entry.storage, entry.type, state, ...sizes, percent]);
  }
  return { stdout: out };
}

/** `pvesm list <storage>`: Volid, Format, Type, Size (bytes), VMID. */
async function listVolumes(context: CliContext, storage: string, options: Record<string, string>) {
  const list = (await callApi(
    context,
    'GET',
    `/nodes/${context.node}/storage/${storage}/content`,
    options,
  )) as VolumeEntry[];
  const sorted = [...list].sort((a, b) => a.volid.localeCompare(b.volid));
  const nameWidth = Math.max(5, ...sorted.map((entry) => entry.volid.length));
  const sizeWidth = Math.max(4, ...sorted.map((entry) => String(entry.size ?? 0).length));
  const row = (cells: string[]) =>
    `${cells[0]!.padEnd(nameWidth)} ${cells[1]!.padEnd(7)} ${cells[2]!.padEnd(9)} ${cells[3]!.padStart(sizeWidth)} ${cells[4]}\n`;
  let out = row(['Volid', 'Format', 'Type', 'Size', 'VMID']);
  for (const entry of sorted) {
    out += row([
      entry.volid,
      entry.format ?? 'raw',
      entry.content ?? 'images',
      String(entry.size ?? 0),
      String(entry.vmid ?? ''),
    ]);
  }
  return { stdout: out };
}

export const pvesmCommands: CliCommand[] = [
  {
    words: ['status'],
    spec: {
      positional: [],
      options: ['storage', 'content', 'enabled', 'format', 'target'],
      booleans: ['enabled', 'format'],
    },
    run: (context, { options }) => storageStatus(context, options),
  },
  {
    words: ['list'],
    spec: { positional: ['storage'], options: ['content', 'vmid'] },
    run: (context, { positional, options }) => listVolumes(context, positional.storage!, options),
  },
];
