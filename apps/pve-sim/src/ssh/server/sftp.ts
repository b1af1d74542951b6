/**
 * A minimal SFTP server over a guest's virtual filesystem: enough for an ssh2 client's
 * writeFile/readFile/fastPut/fastGet, stat, mkdir, readdir, chmod, rename and remove. Writes are
 * buffered per handle and land (and are recorded) once, when the handle is closed.
 */
import { posix } from 'node:path';
import ssh2, { type Attributes, type SFTPWrapper } from 'ssh2';
import { PermissionDeniedError, type Shell } from '../shell/interpreter';
import { VirtualFsError, type VirtualNode } from '../shell/virtual-fs';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

interface FileHandle {
  kind: 'file';
  path: string;
  content: Buffer;
  dirty: boolean;
  mode?: number;
}

interface DirectoryHandle {
  kind: 'dir';
  path: string;
  listed: boolean;
}

function attributesOf(node: VirtualNode): Attributes {
  const seconds = Math.floor(node.mtime.getTime() / 1000);
  return {
    mode: (node.type === 'dir' ? 0o040000 : 0o100000) | node.mode,
    uid: node.owner === 'root' ? 0 : 1000,
    gid: node.owner === 'root' ? 0 : 1000,
    size: node.type === 'file' ? node.content.length : 4096,
    atime: seconds,
    mtime: seconds,
  };
}

function statusOf(error: unknown): number {
  if (error instanceof PermissionDeniedError) return STATUS_CODE.PERMISSION_DENIED;
  if (error instanceof VirtualFsError) return error.code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE;
  throw error;
}

const permissionBits = (attrs: Attributes | undefined) =>
  typeof attrs?.mode === 'number' ? attrs.mode & 0o7777 : undefined;

/** One SFTP session, acting as the shell's user with the shell's write policy. */
class SftpSession {
  private readonly handles = new Map<number, FileHandle | DirectoryHandle>();
  private nextHandle = 1;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly shell: Shell,
  ) {}

  listen() {
    const sftp = this.sftp;
    sftp.on('OPEN', (id, path, flags, attrs) => this.guarded(id, () => this.open(id, path, flags, attrs)));
    sftp.on('WRITE', (id, handle, offset, data) => this.write(id, handle, offset, data));
    sftp.on('READ', (id, handle, offset, length) => this.read(id, handle, offset, length));
    sftp.on('CLOSE', (id, handle) => this.guarded(id, () => this.close(id, handle)));
    sftp.on('FSTAT', (id, handle) => this.fstat(id, handle));
    sftp.on('STAT', (id, path) => this.stat(id, path));
    sftp.on('LSTAT', (id, path) => this.stat(id, path));
    sftp.on('SETSTAT', (id, path, attrs) => this.guarded(id, () => this.setMode(id, path, attrs)));
    sftp.on('FSETSTAT', (id, handle, attrs) => this.guarded(id, () => this.fsetstat(id, handle, attrs)));
    sftp.on('OPENDIR', (id, path) => this.opendir(id, path));
    sftp.on('READDIR', (id, handle) => this.readdir(id, handle));
    sftp.on('REALPATH', (id, path) => {
      const resolved = this.shell.resolve(path === '' ? '.' : path);
      sftp.name(id, [{ filename: resolved, longname: resolved, attrs: {} as Attributes }]);
    });
    sftp.on('MKDIR', (id, path, attrs) => this.guarded(id, () => this.mkdir(id, path, attrs)));
    sftp.on('REMOVE', (id, path) => this.guarded(id, () => this.remove(id, path)));
    sftp.on('RMDIR', (id, path) => this.guarded(id, () => this.remove(id, path)));
    sftp.on('RENAME', (id, from, to) => this.guarded(id, () => this.rename(id, from, to)));
    sftp.on('READLINK', (id) => sftp.status(id, STATUS_CODE.OP_UNSUPPORTED));
    sftp.on('SYMLINK', (id) => sftp.status(id, STATUS_CODE.OP_UNSUPPORTED));
  }

  /** Runs a request, answering with its failure status if the filesystem refuses it. */
  private guarded(id: number, action: () => void) {
    try {
      action();
    } catch (error) {
      this.sftp.status(id, statusOf(error));
    }
  }

  private register(handle: FileHandle | DirectoryHandle): Buffer {
    const number = this.nextHandle++;
    this.handles.set(number, handle);
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(number);
    return buffer;
  }

  private lookup(handle: Buffer) {
    return handle.length === 4 ? this.handles.get(handle.readUInt32BE(0)) : undefined;
  }

  private open(id: number, filename: string, flags: number, attrs: Attributes) {
    const path = this.shell.resolve(filename);
    const node = this.shell.fs.stat(path);
    if (node?.type === 'dir') throw new VirtualFsError('EISDIR', path);
    if (!node && !(flags & OPEN_MODE.CREAT)) throw new VirtualFsError('ENOENT', path);
    if (node && flags & OPEN_MODE.EXCL) throw new VirtualFsError('EEXIST', path);
    if (flags & OPEN_MODE.WRITE) this.shell.requireWritable(path);
    const truncate = !node || (flags & OPEN_MODE.TRUNC) !== 0;
    const handle: FileHandle = {
      kind: 'file',
      path,
      content: truncate ? Buffer.alloc(0) : node.content,
      dirty: truncate,
    };
    const mode = permissionBits(attrs);
    if (mode !== undefined) handle.mode = mode;
    this.sftp.handle(id, this.register(handle));
  }

  private write(id: number, raw: Buffer, offset: number, data: Buffer) {
    const handle = this.lookup(raw);
    if (handle?.kind !== 'file') return this.sftp.status(id, STATUS_CODE.FAILURE);
    const length = Math.max(handle.content.length, offset + data.length);
    const content = Buffer.alloc(length);
    handle.content.copy(content);
    data.copy(content, offset);
    handle.content = content;
    handle.dirty = true;
    this.sftp.status(id, STATUS_CODE.OK);
  }

  private read(id: number, raw: Buffer, offset: number, length: number) {
    const handle = this.lookup(raw);
    if (handle?.kind !== 'file') return this.sftp.status(id, STATUS_CODE.FAILURE);
    if (offset >= handle.content.length) return this.sftp.status(id, STATUS_CODE.EOF);
    this.sftp.data(id, handle.content.subarray(offset, offset + length));
  }

  private close(id: number, raw: Buffer) {
    const handle = this.lookup(raw);
    if (!handle) return this.sftp.status(id, STATUS_CODE.FAILURE);
    this.handles.delete(raw.readUInt32BE(0));
    if (handle.kind === 'file' && handle.dirty)
      this.shell.writeFile(handle.path, handle.content, { mode: handle.mode });
    this.sftp.status(id, STATUS_CODE.OK);
  }

  private fstat(id: number, raw: Buffer) {
    const handle = this.lookup(raw);
    if (!handle) return this.sftp.status(id, STATUS_CODE.FAILURE);
    const node = this.shell.fs.stat(handle.path);
    if (handle.kind === 'dir' || !handle.dirty) {
      return node ? this.sftp.attrs(id, attributesOf(node)) : this.sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    }
    // A file being written reports what it will be once closed.
    const pending: VirtualNode = {
      type: 'file',
      content: handle.content,
      mode: handle.mode ?? 0o644,
      owner: this.shell.user,
      mtime: new Date(),
    };
    this.sftp.attrs(id, attributesOf(pending));
  }

  private stat(id: number, path: string) {
    const node = this.shell.fs.stat(this.shell.resolve(path));
    if (!node) return this.sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    this.sftp.attrs(id, attributesOf(node));
  }

  private setMode(id: number, path: string, attrs: Attributes) {
    const mode = permissionBits(attrs);
    if (mode !== undefined) this.shell.chmod(this.shell.resolve(path), mode);
    this.sftp.status(id, STATUS_CODE.OK);
  }

  private fsetstat(id: number, raw: Buffer, attrs: Attributes) {
    const handle = this.lookup(raw);
    if (!handle) return this.sftp.status(id, STATUS_CODE.FAILURE);
    if (handle.kind === 'file' && handle.dirty) {
      handle.mode = permissionBits(attrs) ?? handle.mode;
      return this.sftp.status(id, STATUS_CODE.OK);
    }
    this.setMode(id, handle.path, attrs);
  }

  private opendir(id: number, path: string) {
    const resolved = this.shell.resolve(path);
    if (this.shell.fs.stat(resolved)?.type !== 'dir') return this.sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    this.sftp.handle(id, this.register({ kind: 'dir', path: resolved, listed: false }));
  }

  private readdir(id: number, raw: Buffer) {
    const handle = this.lookup(raw);
    if (handle?.kind !== 'dir') return this.sftp.status(id, STATUS_CODE.FAILURE);
    if (handle.listed) return this.sftp.status(id, STATUS_CODE.EOF);
    handle.listed = true;
    const entries = this.shell.fs.readdir(handle.path).map((name) => {
      const attrs = attributesOf(this.shell.fs.stat(posix.join(handle.path, name))!);
      return { filename: name, longname: name, attrs };
    });
    this.sftp.name(id, entries);
  }

  private mkdir(id: number, path: string, attrs: Attributes) {
    const resolved = this.shell.requireWritable(path);
    this.shell.fs.mkdir(resolved, { mode: permissionBits(attrs) ?? 0o755, owner: this.shell.user });
    this.sftp.status(id, STATUS_CODE.OK);
  }

  private remove(id: number, path: string) {
    this.shell.fs.remove(this.shell.requireWritable(path));
    this.sftp.status(id, STATUS_CODE.OK);
  }

  private rename(id: number, from: string, to: string) {
    const content = this.shell.fs.readFile(this.shell.requireWritable(from));
    this.shell.writeFile(to, content);
    this.shell.fs.remove(this.shell.resolve(from));
    this.sftp.status(id, STATUS_CODE.OK);
  }
}

/** Serves one SFTP session as the shell's user. */
export function serveSftp(sftp: SFTPWrapper, shell: Shell): void {
  new SftpSession(sftp, shell).listen();
}
