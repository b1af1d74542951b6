/**
 * The VM lists clients poll (`GET /nodes/{node}/qemu`, `GET /cluster/resources`) at 10,000 VMs:
 * each VM's row is kept with its JSON text while every input of the row — its config's content,
 * status and pid; for a resource row also its node, pool, pvestatd's stats and the node's state —
 * stays what it was, so a poll rebuilds only the rows that changed and the HTTP front joins the kept
 * texts instead of serialising 10,000 objects. The one input that moves by itself, the uptime, costs
 * a concatenation of the text around it. Rows are frozen: the text stays exactly `JSON.stringify(row)`.
 */
import type { Vm } from '../state/types';
import { sameContent, uptimeOf, vmListItem } from './vm-status';

interface KeptRow {
  row: Readonly<Record<string, unknown>>;
  json: string;
  /** `json` as UTF-8, made when first sent. */
  bytes?: Buffer;
  uptime: number;
  /** The text before and after the uptime's digits, when the row has one. */
  head?: string;
  tail?: string;
}

/**
 * Fills `entry` (its own fields already set, as one object literal: spreading into a literal and
 * adding keys is the slow path of V8) with a kept row, its text split around the uptime.
 */
function keep<T extends KeptRow>(entry: Omit<T, keyof KeptRow>, row: Record<string, unknown>, uptime: number): T {
  const kept = entry as T;
  kept.row = Object.freeze(row);
  kept.json = JSON.stringify(kept.row);
  kept.uptime = uptime;
  // Keys come in a fixed order and strings are escaped, so `"uptime":` occurs once, as the key.
  const at = row.uptime === uptime ? kept.json.indexOf(`"uptime":${uptime}`) : -1;
  if (at >= 0) {
    kept.head = kept.json.slice(0, at + '"uptime":'.length);
    kept.tail = kept.json.slice(at + `"uptime":${uptime}`.length);
  }
  return kept;
}

/** The same row a second (or more) later: a new frozen object and text, without serialising. */
function moved<T extends KeptRow>(kept: T, uptime: number): T | undefined {
  if (kept.head === undefined || kept.tail === undefined) return undefined;
  const row = { ...kept.row };
  row.uptime = uptime;
  return { ...kept, row: Object.freeze(row), json: `${kept.head}${uptime}${kept.tail}`, uptime, bytes: undefined };
}

interface ListEntry extends KeptRow {
  keys: string[];
  values: string[];
  status: string;
  pid: number | undefined;
  /** Same object while everything but the uptime is unchanged (resource rows compare it). */
  version: object;
}

const listEntries = new WeakMap<Vm, ListEntry>();

/** `vmListItem(vm, now)`, kept: rebuilt only when the VM's config content, status or pid changed. */
function listEntry(vm: Vm, now: number): ListEntry {
  const uptime = uptimeOf(vm, now);
  const kept = listEntries.get(vm);
  if (
    kept !== undefined &&
    kept.status === vm.status &&
    kept.pid === vm.pid &&
    sameContent(vm.config, kept.keys, kept.values)
  ) {
    if (kept.uptime === uptime) return kept;
    const next = moved(kept, uptime);
    if (next) {
      listEntries.set(vm, next);
      return next;
    }
  }
  const keys = Object.keys(vm.config);
  const fresh = keep<ListEntry>(
    { keys, values: keys.map((key) => vm.config[key]!), status: vm.status, pid: vm.pid, version: {} },
    vmListItem(vm, now),
    uptime,
  );
  listEntries.set(vm, fresh);
  return fresh;
}

/** A VM's row of `GET /nodes/{node}/qemu`. */
export function keptListRow(vm: Vm, now: number): KeptRow {
  return listEntry(vm, now);
}

/** What a resource row is made of besides the VM's list item. */
export interface ResourceInputs {
  live: boolean;
  stats: unknown;
  offline: boolean;
}

interface ResourceEntry extends KeptRow {
  version: object;
  node: string;
  pool: string | undefined;
  inputs: ResourceInputs;
}

const resourceEntries = new WeakMap<Vm, ResourceEntry>();

/** A VM's row of `GET /cluster/resources`, built by `build` when one of its inputs changed. */
export function keptResourceRow(
  vm: Vm,
  now: number,
  inputs: ResourceInputs,
  build: () => Record<string, unknown>,
): KeptRow {
  const list = listEntry(vm, now);
  const kept = resourceEntries.get(vm);
  if (
    kept !== undefined &&
    kept.version === list.version &&
    kept.node === vm.node &&
    kept.pool === vm.pool &&
    kept.inputs.live === inputs.live &&
    kept.inputs.stats === inputs.stats &&
    kept.inputs.offline === inputs.offline
  ) {
    if (kept.uptime === list.uptime) return kept;
    const next = moved(kept, list.uptime);
    if (next) {
      resourceEntries.set(vm, next);
      return next;
    }
  }
  const fresh = keep<ResourceEntry>(
    { version: list.version, node: vm.node, pool: vm.pool, inputs },
    build(),
    list.uptime,
  );
  resourceEntries.set(vm, fresh);
  return fresh;
}

/** Lists whose rows are kept, for the HTTP front (see `payloadOfList`). */
const listRows = new WeakMap<readonly unknown[], KeptRow[]>();

/** A frozen list of kept rows that the HTTP front sends by copying their bytes. */
export function rowList(rows: KeptRow[]): readonly unknown[] {
  const items = new Array<unknown>(rows.length);
  for (let index = 0; index < rows.length; index += 1) items[index] = rows[index]!.row;
  const list = Object.freeze(items);
  listRows.set(list, rows);
  return list;
}

const OPEN = Buffer.from('{"data":[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

/**
 * The body `{"data": <list>}` for a list made by `rowList`, as the bytes `JSON.stringify` would
 * give, copied from each row's kept bytes; undefined for any other data.
 */
export function payloadOfList(data: unknown): Buffer | undefined {
  if (!Array.isArray(data)) return undefined;
  const rows = listRows.get(data);
  if (!rows) return undefined;
  let length = OPEN.length + CLOSE.length + Math.max(0, rows.length - 1);
  for (const row of rows) {
    row.bytes ??= Buffer.from(row.json);
    length += row.bytes.length;
  }
  const payload = Buffer.allocUnsafe(length);
  let at = OPEN.copy(payload, 0);
  for (let index = 0; index < rows.length; index += 1) {
    if (index > 0) at += COMMA.copy(payload, at);
    at += rows[index]!.bytes!.copy(payload, at);
  }
  CLOSE.copy(payload, at);
  return payload;
}
