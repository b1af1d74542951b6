/**
 * Keeps a guest's in-memory machine and its disk record (state/guest-disk.ts) in step: the disk's
 * saved changes are laid over the freshly built base image, and from then on every change the
 * guest makes is written straight into the record, so the state file, a snapshot or a clone taken
 * at any moment holds the guest as it is.
 */
import type { GuestDisk, GuestDiskEntry } from '../../state/guest-disk';
import type { VirtualFs, VirtualNode } from '../shell/virtual-fs';

function encode(node: VirtualNode): GuestDiskEntry {
  const common = { mode: node.mode, owner: node.owner, mtime: node.mtime.getTime() };
  if (node.type === 'dir') return { type: 'dir', ...common };
  const text = node.content.toString('utf8');
  return Buffer.from(text, 'utf8').equals(node.content)
    ? { type: 'file', content: text, ...common }
    : { type: 'file', content: node.content.toString('base64'), encoding: 'base64', ...common };
}

function decode(entry: GuestDiskEntry): VirtualNode {
  const common = { mode: entry.mode, owner: entry.owner, mtime: new Date(entry.mtime) };
  if (entry.type === 'dir') return { type: 'dir', ...common };
  return { type: 'file', content: Buffer.from(entry.content, entry.encoding ?? 'utf8'), ...common };
}

/**
 * Lays `disk.files` over the base image already in `fs`, then records every later change in
 * `disk.files`: the path's new entry, or null for a deleted base-image path (a deleted path the
 * guest made itself is simply dropped).
 */
export function attachDiskFiles(fs: VirtualFs, disk: GuestDisk): void {
  const base = new Set(fs.paths());
  // Sorted, a directory comes before what it holds; deletions and writes apply in that order.
  for (const path of Object.keys(disk.files).sort()) {
    const entry = disk.files[path];
    fs.restore(path, entry ? decode(entry) : undefined);
  }
  fs.observe((path, node) => {
    if (node) disk.files[path] = encode(node);
    else if (base.has(path)) disk.files[path] = null;
    else delete disk.files[path];
  });
}

/** A Set whose contents are mirrored into `target` (an array in the disk record) on every change. */
export class RecordedSet extends Set<string> {
  private readonly target: string[];

  constructor(target: string[]) {
    super();
    for (const value of target) super.add(value);
    this.target = target;
  }

  override add(value: string): this {
    super.add(value);
    this.sync();
    return this;
  }

  override delete(value: string): boolean {
    const deleted = super.delete(value);
    if (deleted) this.sync();
    return deleted;
  }

  override clear(): void {
    super.clear();
    this.sync();
  }

  private sync() {
    // `target` is undefined while Set's constructor runs; nothing needs mirroring then.
    this.target?.splice(0, this.target.length, ...this);
  }
}

/**
 * A Map mirrored into `target` (a record in the disk record). Object values are shared with the
 * record, so changing one in place (a service's `active` flag) is recorded as well.
 */
export class RecordedMap<V> extends Map<string, V> {
  private readonly target: Record<string, V>;

  constructor(target: Record<string, V>) {
    super();
    for (const [key, value] of Object.entries(target)) super.set(key, value);
    this.target = target;
  }

  override set(key: string, value: V): this {
    super.set(key, value);
    if (this.target) this.target[key] = value;
    return this;
  }

  override delete(key: string): boolean {
    const deleted = super.delete(key);
    if (this.target) delete this.target[key];
    return deleted;
  }

  override clear(): void {
    super.clear();
    if (this.target) for (const key of Object.keys(this.target)) delete this.target[key];
  }
}
