/**
 * The VM lists clients poll (`GET /nodes/{node}/qemu`, `GET /cluster/resources`) at 10,000 VMs.
 *
 * Rows: each VM's row is kept as a frozen object and its JSON bytes, split around the uptime's
 * digits, while every input of the row — its config's content, status and pid; for a resource row
 * also its node, pool, pvestatd's stats and the node's state — stays what it was (checked on every
 * list, so a change made anywhere, even in place, shows in the very next answer).
 *
 * Bodies: the bytes of the last answer of each list (per path and caller, since the caller's
 * privileges decide which rows it holds) are kept with where each row's uptime digits sit. The next
 * answer with the same rows in the same order is the same buffer, with the digits of the uptimes
 * that moved since written over (on a copy when the previous buffer was handed to a socket); any
 * other change builds the body anew from the rows' bytes. The uptime is the one input that moves by
 * itself: it is computed for every row of every answer, as qemu-server does.
 */
import type { ClusterState, Vm } from '../state/types';
import type { Identity } from '../tasks';
import { contentOf, sameContent, vmListItem } from './vm-status';

/** A row as kept: the frozen object and its JSON bytes, split where the uptime's digits go. */
export interface KeptRow {
  readonly row: Readonly<Record<string, unknown>>;
  /** The bytes before the uptime's digits; the whole row when it has no uptime. */
  readonly head: Buffer;
  /** The bytes after the uptime's digits; undefined when the row has no uptime. */
  readonly tail: Buffer | undefined;
}

interface RowParts {
  row: Readonly<Record<string, unknown>>;
  head: Buffer;
  tail: Buffer | undefined;
}

/** Freezes a row and splits its JSON text around the uptime (built with a number there). */
function rowParts(row: Record<string, unknown>): RowParts {
  const frozen = Object.freeze(row);
  const json = JSON.stringify(frozen);
  const uptime = row.uptime;
  // Keys come in a fixed order and strings are escaped, so `"uptime":<n>` occurs once, as the key.
  const marker = typeof uptime === 'number' ? `"uptime":${uptime}` : undefined;
  const at = marker === undefined ? -1 : json.indexOf(marker);
  if (at < 0) return { row: frozen, head: Buffer.from(json), tail: undefined };
  const digitsAt = at + '"uptime":'.length;
  return {
    row: frozen,
    head: Buffer.from(json.slice(0, digitsAt)),
    tail: Buffer.from(json.slice(at + marker!.length)),
  };
}

interface ListEntry extends KeptRow {
  /** The config's content the row was built from (`contentOf`). */
  content: string[];
  status: string;
  pid: number | undefined;
}

const listEntries = new WeakMap<Vm, ListEntry>();

/** `vmListItem(vm)`, kept: rebuilt only when the VM's config content, status or pid changed. */
export function keptListRow(vm: Vm, now: number): KeptRow {
  const kept = listEntries.get(vm);
  if (kept !== undefined && kept.status === vm.status && kept.pid === vm.pid && sameContent(vm.config, kept.content)) {
    return kept;
  }
  const parts = rowParts(vmListItem(vm, now));
  const fresh: ListEntry = {
    row: parts.row,
    head: parts.head,
    tail: parts.tail,
    content: contentOf(vm.config),
    status: vm.status,
    pid: vm.pid,
  };
  listEntries.set(vm, fresh);
  return fresh;
}

/** pvestatd's last snapshot of a VM, as `/cluster/resources` shows it when not live. */
export type ResourceStats = unknown;

interface ResourceEntry extends KeptRow {
  /** The list entry this row was built beside (a new one whenever the VM's config/status/pid changed). */
  list: ListEntry;
  node: string;
  pool: string | undefined;
  live: boolean;
  stats: ResourceStats;
  offline: boolean;
}

const resourceEntries = new WeakMap<Vm, ResourceEntry>();

/** A VM's row of `GET /cluster/resources`, built by `build` when one of its inputs changed. */
export function keptResourceRow(
  vm: Vm,
  now: number,
  live: boolean,
  stats: ResourceStats,
  offline: boolean,
  build: (vm: Vm) => Record<string, unknown>,
): KeptRow {
  const list = keptListRow(vm, now) as ListEntry;
  const kept = resourceEntries.get(vm);
  if (
    kept !== undefined &&
    kept.list === list &&
    kept.node === vm.node &&
    kept.pool === vm.pool &&
    kept.live === live &&
    kept.stats === stats &&
    kept.offline === offline
  ) {
    return kept;
  }
  const parts = rowParts(build(vm));
  const fresh: ResourceEntry = {
    row: parts.row,
    head: parts.head,
    tail: parts.tail,
    list,
    node: vm.node,
    pool: vm.pool,
    live,
    stats,
    offline,
  };
  resourceEntries.set(vm, fresh);
  return fresh;
}

/** The last body sent for one list and caller. */
interface KeptBody {
  rows: KeptRow[];
  uptimes: number[];
  /** Where each row's uptime digits start in `bytes` (-1: the row has none). */
  digitsAt: number[];
  /** How many digits each row's uptime has in `bytes`. */
  digits: number[];
  bytes: Buffer;
  /** `bytes` was handed out (to a socket): it is copied before any digit is written over. */
  lent: boolean;
}

const OPEN = Buffer.from('{"data":[');
const COMMA = 0x2c;
const CLOSE = Buffer.from(']}');
/** Callers × lists kept per cluster state before the oldest are dropped. */
const maxBodies = 64;

const bodiesOf = new WeakMap<ClusterState, Map<string, KeptBody>>();

function bodiesFor(state: ClusterState): Map<string, KeptBody> {
  let bodies = bodiesOf.get(state);
  if (!bodies) {
    bodies = new Map();
    bodiesOf.set(state, bodies);
  }
  return bodies;
}

/** `{"data":[rows…]}` as bytes, with the uptime of each row written between its head and tail. */
function buildBody(rows: KeptRow[], uptimes: number[]): KeptBody {
  const texts = new Array<string | undefined>(rows.length);
  let length = OPEN.length + CLOSE.length + Math.max(0, rows.length - 1);
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    length += row.head.length;
    if (row.tail !== undefined) {
      const text = String(uptimes[index]);
      texts[index] = text;
      length += text.length + row.tail.length;
    }
  }
  const bytes = Buffer.allocUnsafeSlow(length);
  const digitsAt = new Array<number>(rows.length);
  const digits = new Array<number>(rows.length);
  let at = OPEN.copy(bytes, 0);
  for (let index = 0; index < rows.length; index += 1) {
    if (index > 0) bytes[at++] = COMMA;
    const row = rows[index]!;
    at += row.head.copy(bytes, at);
    const text = texts[index];
    if (row.tail === undefined || text === undefined) {
      digitsAt[index] = -1;
      digits[index] = 0;
      continue;
    }
    digitsAt[index] = at;
    digits[index] = text.length;
    at += bytes.write(text, at, 'latin1');
    at += row.tail.copy(bytes, at);
  }
  CLOSE.copy(bytes, at);
  return { rows, uptimes: uptimes.slice(), digitsAt, digits, bytes, lent: false };
}

/** Brings a kept body to these uptimes in place; false when a row's digit count changed. */
function patchUptimes(body: KeptBody, uptimes: number[]): boolean {
  for (let index = 0; index < uptimes.length; index += 1) {
    const uptime = uptimes[index]!;
    if (uptime === body.uptimes[index] || body.digitsAt[index]! < 0) continue;
    const text = String(uptime);
    if (text.length !== body.digits[index]) return false;
    if (body.lent) {
      // A socket may still be reading the previous buffer: write into a copy.
      body.bytes = Buffer.from(body.bytes);
      body.lent = false;
    }
    body.bytes.write(text, body.digitsAt[index]!, 'latin1');
    body.uptimes[index] = uptime;
  }
  return true;
}

function sameRows(a: KeptRow[], b: KeptRow[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

/**
 * One answer of a VM list: rows in order with their uptimes at the time of the request. The
 * dispatcher gives it to callers as `data` (frozen row objects, made when first read) and to the
 * HTTP front as `payload()` (the bytes `JSON.stringify({data})` gives, from the kept body).
 */
export class KeptList {
  private readonly rows: KeptRow[] = [];
  private readonly uptimes: number[] = [];
  private items: readonly unknown[] | undefined;
  private bytes: Buffer | undefined;

  /** `key` names the list and the caller: answers under one key share a kept body. */
  constructor(
    private readonly state: ClusterState,
    private readonly key: string,
  ) {}

  add(row: KeptRow, uptime: number): void {
    this.rows.push(row);
    this.uptimes.push(uptime);
  }

  /** The rows as objects, each with this answer's uptime. */
  data(): readonly unknown[] {
    if (this.items) return this.items;
    const items = new Array<unknown>(this.rows.length);
    for (let index = 0; index < this.rows.length; index += 1) {
      const { row, tail } = this.rows[index]!;
      const uptime = this.uptimes[index];
      items[index] = tail === undefined || row.uptime === uptime ? row : Object.freeze({ ...row, uptime });
    }
    this.items = Object.freeze(items);
    return this.items;
  }

  /** `{"data":[…]}` as bytes. The buffer may be shared with later answers' senders: never write to it. */
  payload(): Buffer {
    if (this.bytes) return this.bytes;
    const bodies = bodiesFor(this.state);
    let body = bodies.get(this.key);
    if (!body || !sameRows(body.rows, this.rows) || !patchUptimes(body, this.uptimes)) {
      body = buildBody(this.rows, this.uptimes);
      if (!bodies.has(this.key) && bodies.size >= maxBodies) bodies.delete(bodies.keys().next().value!);
      bodies.set(this.key, body);
    }
    body.lent = true;
    this.bytes = body.bytes;
    return this.bytes;
  }
}

/** The key of a list's kept body: the list and who asked (their privileges pick the rows). */
export function listKey(list: string, who: Identity): string {
  return `${list} ${who.userid}!${who.tokenid ?? ''}`;
}
