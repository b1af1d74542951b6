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

/** Serves one SFTP session as the shell's user. */
export function serveSftp(sftp: SFTPWrapper, shell: Shell): void {
  const handles = new Map<number, FileHandle | DirectoryHandle>();
  let nextHandle = 1;
  const open = (handle: FileHandle | DirectoryHandle) => {
    const id = nextHandle++;
    handles.set(id, handle);
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(id);
    return buffer;
  };
  const lookup = (handle: Buffer) => (handle.length === 4 ? handles.get(handle.readUInt32BE(0)) : undefined);
  /** Runs `action`, answering the request with its failure status if it throws. */
  const guarded = (reqId: number, action: () => void) => {
    try {
      action();
    } catch (error) {
      sftp.status(reqId, statusOf(error));
    }
  };

  sftp.on('OPEN', (reqId, filename, flags, attrs) =>
    guarded(reqId, () => {
      const path = shell.resolve(filename);
      const node = shell.fs.stat(path);
      const writing = (flags & OPEN_MODE.WRITE) !== 0;
      if (node?.type === 'dir') throw new VirtualFsError('EISDIR', path);
      if (!node && !(flags & OPEN_MODE.CREAT)) throw new VirtualFsError('ENOENT', path);
      if (node && flags & OPEN_MODE.EXCL) throw new VirtualFsError('EEXIST', path);
      if (writing) shell.requireWritable(path);
      const truncate = !node || (flags & OPEN_MODE.TRUNC) !== 0;
      const handle: FileHandle = {
        kind: 'file',
        path,
        content: truncate ? Buffer.alloc(0) : node.content,
        dirty: truncate,
      };
      if (typeof attrs?.mode === 'number') handle.mode = attrs.mode & 0o7777;
      sftp.handle(reqId, open(handle));
    }),
  );

  sftp.on('WRITE', (reqId, rawHandle, offset, data) => {
    const handle = lookup(rawHandle);
    if (handle?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.FAILURE);
    const end = offset + data.length;
    if (end > handle.content.length)
      handle.content = Buffer.concat([handle.content, Buffer.alloc(end - handle.content.length)]);
    else handle.content = Buffer.from(handle.content);
    data.copy(handle.content, offset);
    handle.dirty = true;
    sftp.status(reqId, STATUS_CODE.OK);
  });

  sftp.on('READ', (reqId, rawHandle, offset, length) => {
    const handle = lookup(rawHandle);
    if (handle?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.FAILURE);
    if (offset >= handle.content.length) return sftp.status(reqId, STATUS_CODE.EOF);
    sftp.data(reqId, handle.content.subarray(offset, offset + length));
  });

  sftp.on('CLOSE', (reqId, rawHandle) =>
    guarded(reqId, () => {
      const handle = lookup(rawHandle);
      if (!handle) return sftp.status(reqId, STATUS_CODE.FAILURE);
      handles.delete(rawHandle.readUInt32BE(0));
      if (handle.kind === 'file' && handle.dirty) shell.writeFile(handle.path, handle.content, { mode: handle.mode });
      sftp.status(reqId, STATUS_CODE.OK);
    }),
  );

  sftp.on('FSTAT', (reqId, rawHandle) => {
    const handle = lookup(rawHandle);
    if (!handle) return sftp.status(reqId, STATUS_CODE.FAILURE);
    const node = shell.fs.stat(handle.path);
    if (handle.kind === 'file') {
      const base = node ?? { type: 'file', mode: 0o644, owner: shell.user, mtime: new Date(), content: handle.content };
      return sftp.attrs(reqId, { ...attributesOf(base as VirtualNode), size: handle.content.length });
    }
    if (!node) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
    sftp.attrs(reqId, attributesOf(node));
  });

  const stat = (reqId: number, path: string) => {
    const node = shell.fs.stat(shell.resolve(path));
    if (!node) return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
    sftp.attrs(reqId, attributesOf(node));
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);

  const setMode = (reqId: number, path: string, attrs: Attributes) =>
    guarded(reqId, () => {
      if (typeof attrs.mode === 'number') shell.chmod(path, attrs.mode & 0o7777);
      sftp.status(reqId, STATUS_CODE.OK);
    });
  sftp.on('SETSTAT', (reqId, path, attrs) => setMode(reqId, shell.resolve(path), attrs));
  sftp.on('FSETSTAT', (reqId, rawHandle, attrs) => {
    const handle = lookup(rawHandle);
    if (!handle) return sftp.status(reqId, STATUS_CODE.FAILURE);
    if (handle.kind === 'file' && handle.dirty) {
      if (typeof attrs.mode === 'number') handle.mode = attrs.mode & 0o7777;
      return sftp.status(reqId, STATUS_CODE.OK);
    }
    setMode(reqId, handle.path, attrs);
  });

  sftp.on('OPENDIR', (reqId, path) => {
    const resolved = shell.resolve(path);
    if (shell.fs.stat(resolved)?.type !== 'dir') return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
    sftp.handle(reqId, open({ kind: 'dir', path: resolved, listed: false }));
  });

  sftp.on('READDIR', (reqId, rawHandle) => {
    const handle = lookup(rawHandle);
    if (handle?.kind !== 'dir') return sftp.status(reqId, STATUS_CODE.FAILURE);
    if (handle.listed) return sftp.status(reqId, STATUS_CODE.EOF);
    handle.listed = true;
    const entries = shell.fs.readdir(handle.path).map((name) => {
      const attrs = attributesOf(shell.fs.stat(posix.join(handle.path, name))!);
      return { filename: name, longname: name, attrs };
    });
    sftp.name(reqId, entries);
  });

  sftp.on('REALPATH', (reqId, path) => {
    const resolved = shell.resolve(path === '' ? '.' : path);
    sftp.name(reqId, [{ filename: resolved, longname: resolved, attrs: {} as Attributes }]);
  });

  sftp.on('MKDIR', (reqId, path, attrs) =>
    guarded(reqId, () => {
      const resolved = shell.requireWritable(path);
      const mode = typeof attrs?.mode === 'number' ? attrs.mode & 0o7777 : 0o755;
      shell.fs.mkdir(resolved, { mode, owner: shell.user });
      sftp.status(reqId, STATUS_CODE.OK);
    }),
  );

  const remove = (reqId: number, path: string) =>
    guarded(reqId, () => {
      shell.fs.remove(shell.requireWritable(path));
      sftp.status(reqId, STATUS_CODE.OK);
    });
  sftp.on('REMOVE', remove);
  sftp.on('RMDIR', remove);

  sftp.on('RENAME', (reqId, from, to) =>
    guarded(reqId, () => {
      const content = shell.fs.readFile(shell.requireWritable(from));
      shell.writeFile(to, content);
      shell.fs.remove(shell.resolve(from));
      sftp.status(reqId, STATUS_CODE.OK);
    }),
  );

  sftp.on('READLINK', (reqId) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED));
  sftp.on('SYMLINK', (reqId) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED));
}
