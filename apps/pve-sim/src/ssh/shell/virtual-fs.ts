import { posix } from 'node:path';

export interface VirtualFile {
  type: 'file';
  content: Buffer;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** Owning user name. */
  owner: string;
  mtime: Date;
}

export interface VirtualDirectory {
  type: 'dir';
  mode: number;
  owner: string;
  mtime: Date;
}

export type VirtualNode = VirtualFile | VirtualDirectory;

/** Raised by filesystem operations; `code` is the errno name a shell or SFTP server reports. */
export class VirtualFsError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY',
    readonly path: string,
  ) {
    super(`${code}: ${path}`);
    this.name = 'VirtualFsError';
  }

  /** The strerror text coreutils print (`No such file or directory`). */
  get reason(): string {
    return {
      ENOENT: 'No such file or directory',
      EEXIST: 'File exists',
      ENOTDIR: 'Not a directory',
      EISDIR: 'Is a directory',
      ENOTEMPTY: 'Directory not empty',
    }[this.code];
  }
}

/**
 * An in-memory tree of files and directories: the simulated node's or a guest's filesystem.
 * Paths are absolute POSIX paths; nothing here ever touches the real disk.
 */
export class VirtualFs {
  private readonly nodes = new Map<string, VirtualNode>([['/', directory('root', 0o755)]]);
  /** Directories whose files are generated on every read (e.g. `/etc/pve/qemu-server/*.conf`). */
  private readonly generated = new Map<string, () => Record<string, string>>();
  private observer: ((path: string, node: VirtualNode | undefined) => void) | undefined;

  /**
   * Calls `observer` after every change to a stored path (write, mkdir, chmod, remove), one call
   * per path with its new node, or undefined once removed. A guest keeps its disk state this way.
   */
  observe(observer: (path: string, node: VirtualNode | undefined) => void) {
    this.observer = observer;
  }

  /** Every stored path (generated files aside). */
  paths(): string[] {
    return [...this.nodes.keys()];
  }

  /**
   * Puts `node` at `path` as it is (or removes the path and what is under it, for undefined),
   * creating missing parent directories, without telling the observer: for rebuilding a saved tree.
   */
  restore(path: string, node: VirtualNode | undefined) {
    const target = VirtualFs.resolve(path);
    if (target === '/') return;
    if (!node) {
      for (const key of this.paths()) if (key === target || key.startsWith(`${target}/`)) this.nodes.delete(key);
      return;
    }
    const parent = posix.dirname(target);
    if (this.nodes.get(parent)?.type !== 'dir') this.restore(parent, directory('root', 0o755));
    this.nodes.set(target, node);
  }

  /**
   * Makes `dir` show the files `files()` returns, computed at each access, like a FUSE mount
   * (pmxcfs) over live state. Such files are read-only views.
   */
  mountGenerated(dir: string, files: () => Record<string, string>) {
    const target = VirtualFs.resolve(dir);
    this.mkdir(target, { recursive: true });
    this.generated.set(target, files);
  }

  /** Normalises `path`, resolving a relative one against `cwd`. */
  static resolve(path: string, cwd = '/'): string {
    return posix.resolve(cwd, path);
  }

  stat(path: string): VirtualNode | undefined {
    const target = VirtualFs.resolve(path);
    const content = this.generated.get(posix.dirname(target))?.()[posix.basename(target)];
    if (content !== undefined) {
      return { type: 'file', content: Buffer.from(content), mode: 0o640, owner: 'root', mtime: new Date() };
    }
    return this.nodes.get(target);
  }

  readFile(path: string): Buffer {
    const node = this.stat(path);
    if (!node) throw new VirtualFsError('ENOENT', path);
    if (node.type === 'dir') throw new VirtualFsError('EISDIR', path);
    return node.content;
  }

  /** Creates or replaces a file; the parent directory must exist. */
  writeFile(path: string, content: Buffer | string, options: { mode?: number; owner?: string; append?: boolean } = {}) {
    const target = VirtualFs.resolve(path);
    const existing = this.nodes.get(target);
    if (existing?.type === 'dir') throw new VirtualFsError('EISDIR', path);
    this.requireDirectory(posix.dirname(target), path);
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    this.nodes.set(target, {
      type: 'file',
      content: options.append && existing ? Buffer.concat([existing.content, data]) : data,
      mode: options.mode ?? existing?.mode ?? 0o644,
      owner: existing?.owner ?? options.owner ?? 'root',
      mtime: new Date(),
    });
    this.observer?.(target, this.nodes.get(target));
  }

  /** `mkdir` (or `mkdir -p` with `recursive`). */
  mkdir(path: string, options: { recursive?: boolean; mode?: number; owner?: string } = {}) {
    const target = VirtualFs.resolve(path);
    const existing = this.nodes.get(target);
    if (existing) {
      if (options.recursive && existing.type === 'dir') return;
      throw new VirtualFsError('EEXIST', path);
    }
    const parent = posix.dirname(target);
    if (options.recursive && !this.nodes.has(parent)) this.mkdir(parent, options);
    this.requireDirectory(parent, path);
    this.nodes.set(target, directory(options.owner ?? 'root', options.mode ?? 0o755));
    this.observer?.(target, this.nodes.get(target));
  }

  /** Names directly inside a directory, sorted. */
  readdir(path: string): string[] {
    const target = VirtualFs.resolve(path);
    this.requireDirectory(target, path);
    const prefix = target === '/' ? '/' : `${target}/`;
    const stored = [...this.nodes.keys()]
      .filter((key) => key !== target && key.startsWith(prefix) && !key.slice(prefix.length).includes('/'))
      .map((key) => key.slice(prefix.length));
    const generated = Object.keys(this.generated.get(target)?.() ?? {});
    return [...new Set([...stored, ...generated])].sort();
  }

  chmod(path: string, mode: number) {
    const node = this.stat(path);
    if (!node) throw new VirtualFsError('ENOENT', path);
    node.mode = mode;
    const target = VirtualFs.resolve(path);
    if (this.nodes.get(target) === node) this.observer?.(target, node);
  }

  /** Removes a file or an empty directory (`recursive` removes a whole tree). */
  remove(path: string, options: { recursive?: boolean } = {}) {
    const target = VirtualFs.resolve(path);
    const node = this.nodes.get(target);
    if (!node) throw new VirtualFsError('ENOENT', path);
    if (node.type === 'dir') {
      const children = this.readdir(target);
      if (children.length > 0 && !options.recursive) throw new VirtualFsError('ENOTEMPTY', path);
      for (const child of children) this.remove(posix.join(target, child), options);
    }
    this.nodes.delete(target);
    this.observer?.(target, undefined);
  }

  private requireDirectory(resolved: string, shownPath: string) {
    const node = this.nodes.get(resolved);
    if (!node) throw new VirtualFsError('ENOENT', shownPath);
    if (node.type !== 'dir') throw new VirtualFsError('ENOTDIR', shownPath);
  }
}

function directory(owner: string, mode: number): VirtualDirectory {
  return { type: 'dir', mode, owner, mtime: new Date() };
}
