import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { type Command, type CommandOutcome, PermissionDeniedError, type Shell } from './interpreter';
import { VirtualFsError, type VirtualNode } from './virtual-fs';

/** coreutils the simulated node and guests share, over the shell's virtual filesystem. */
export const fileCommands: Record<string, Command> = {
  cat: async ({ argv, shell, readStdin }) => {
    const paths = argv.slice(1).filter((arg) => arg !== '-' && !arg.startsWith('-'));
    if (paths.length === 0) return { stdout: await readStdin() };
    return eachPath('cat', paths, (path) => shell.fs.readFile(shell.resolve(path)).toString());
  },
  ls: ({ argv, shell }) => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const long = flags.includes('l');
    const all = flags.includes('a');
    const outcome = eachPath('ls', operands.length > 0 ? operands : ['.'], (path) => {
      const resolved = shell.resolve(path);
      const node = shell.fs.stat(resolved);
      if (!node) throw new VirtualFsError('ENOENT', path);
      if (node.type === 'file') return `${long ? longListing(path, node) : path}\n`;
      const names = shell.fs.readdir(resolved).filter((name) => all || !name.startsWith('.'));
      return names
        .map((name) => `${long ? longListing(name, shell.fs.stat(posix.join(resolved, name))!) : name}\n`)
        .join('');
    });
    return { ...outcome, code: outcome.code ? 2 : 0, stderr: outcome.stderr?.replace(/ls: (.*?): /g, cannotAccess) };
  },
  mkdir: ({ argv, shell }) => {
    const { flags, operands, values } = splitFlags(argv.slice(1), ['m']);
    const mode = values.m ? Number.parseInt(values.m, 8) : undefined;
    return eachPath('mkdir', operands, (path) => {
      const resolved = shell.requireWritable(path);
      if (shell.fs.stat(resolved) && !flags.includes('p')) {
        throw new Error(`cannot create directory '${path}': File exists`);
      }
      shell.fs.mkdir(resolved, { recursive: flags.includes('p'), mode, owner: shell.user });
      return '';
    });
  },
  chmod: ({ argv, shell }) => {
    const { operands } = splitFlags(argv.slice(1));
    const [spec, ...paths] = operands;
    return eachPath('chmod', paths, (path) => {
      const node = shell.fs.stat(shell.resolve(path));
      if (!node) throw new Error(`cannot access '${path}': No such file or directory`);
      shell.chmod(path, applyModeSpec(node.mode, spec ?? ''));
      return '';
    });
  },
  rm: ({ argv, shell }) => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const outcome = eachPath('rm', operands, (path) => {
      const resolved = shell.requireWritable(path);
      const node = shell.fs.stat(resolved);
      if (!node && flags.includes('f')) return '';
      if (!node) throw new Error(`cannot remove '${path}': No such file or directory`);
      if (node.type === 'dir' && !/[rR]/.test(flags)) throw new Error(`cannot remove '${path}': Is a directory`);
      shell.fs.remove(resolved, { recursive: true });
      return '';
    });
    return outcome;
  },
  touch: ({ argv, shell }) =>
    eachPath('touch', splitFlags(argv.slice(1)).operands, (path) => {
      shell.writeFile(path, '', { append: true });
      return '';
    }),
  tee: async ({ argv, shell, readStdin }) => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const input = await readStdin();
    const outcome = eachPath('tee', operands, (path) => {
      shell.writeFile(path, input, { append: flags.includes('a') });
      return '';
    });
    return { ...outcome, stdout: input };
  },
  cp: ({ argv, shell }) => {
    const [source, target] = splitFlags(argv.slice(1)).operands;
    return eachPath('cp', [source ?? ''], (path) => {
      const content = shell.fs.readFile(shell.resolve(path));
      shell.writeFile(intoDirectory(shell, path, target ?? ''), content);
      return '';
    });
  },
  mv: ({ argv, shell }) => {
    const [source, target] = splitFlags(argv.slice(1)).operands;
    return eachPath('mv', [source ?? ''], (path) => {
      const content = shell.fs.readFile(shell.resolve(path));
      shell.writeFile(intoDirectory(shell, path, target ?? ''), content);
      shell.fs.remove(shell.requireWritable(path));
      return '';
    });
  },
  sha256sum: ({ argv, shell }) =>
    eachPath('sha256sum', splitFlags(argv.slice(1)).operands, (path) => {
      const digest = createHash('sha256')
        .update(shell.fs.readFile(shell.resolve(path)))
        .digest('hex');
      return `${digest}  ${path}\n`;
    }),
};

/**
 * Runs `action` for each path, collecting output; failures print `<cmd>: <reason>` and make the
 * exit status 1 without stopping the remaining paths, as coreutils do.
 */
function eachPath(name: string, paths: string[], action: (path: string) => string): CommandOutcome {
  if (paths.length === 0) return { stderr: `${name}: missing operand\n`, code: 1 };
  let stdout = '';
  let stderr = '';
  for (const path of paths) {
    try {
      stdout += action(path);
    } catch (error) {
      stderr += `${name}: ${describeFileError(error, path)}\n`;
    }
  }
  return { stdout, stderr, code: stderr ? 1 : 0 };
}

function describeFileError(error: unknown, path: string): string {
  if (error instanceof VirtualFsError) return `${path}: ${error.reason}`;
  if (error instanceof PermissionDeniedError) return `${path}: Permission denied`;
  if (error instanceof Error) return error.message;
  throw error;
}

function cannotAccess(_match: string, path: string): string {
  return `ls: cannot access '${path}': `;
}

/** Separates `-abc` flags (and options taking a value, such as `-m 0755`) from operands. */
export function splitFlags(args: string[], withValue: string[] = []) {
  let flags = '';
  const operands: string[] = [];
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (/^-[A-Za-z]+$/.test(arg)) {
      const letter = arg
        .slice(1)
        .split('')
        .find((char) => withValue.includes(char));
      if (letter) values[letter] = args[++i] ?? '';
      flags += arg.slice(1);
    } else if (/^--[a-z-]+/.test(arg)) {
      flags += arg === '--recursive' ? 'r' : arg === '--parents' ? 'p' : arg === '--force' ? 'f' : '';
    } else {
      operands.push(arg);
    }
  }
  return { flags, operands, values };
}

/** Octal (`644`, `0755`) or symbolic (`+x`, `u+x`, `go-w`, `a=r`) modes. */
export function applyModeSpec(current: number, spec: string): number {
  if (/^[0-7]{3,4}$/.test(spec)) return Number.parseInt(spec, 8);
  let mode = current;
  for (const clause of spec.split(',')) {
    const match = /^([ugoa]*)([-+=])([rwx]*)$/.exec(clause);
    if (!match) throw new Error(`invalid mode: '${spec}'`);
    const [, who, op, perms] = match as unknown as [string, string, string, string];
    const bits = (perms.includes('r') ? 4 : 0) | (perms.includes('w') ? 2 : 0) | (perms.includes('x') ? 1 : 0);
    const targets = who === '' || who.includes('a') ? 'ugo' : who;
    let mask = 0;
    let whole = 0;
    for (const target of targets) {
      const shift = { u: 6, g: 3, o: 0 }[target as 'u' | 'g' | 'o'];
      mask |= bits << shift;
      whole |= 7 << shift;
    }
    if (op === '+') mode |= mask;
    else if (op === '-') mode &= ~mask;
    else mode = (mode & ~whole) | mask;
  }
  return mode;
}

function intoDirectory(shell: Shell, source: string, target: string): string {
  const node = shell.fs.stat(shell.resolve(target));
  return node?.type === 'dir' ? posix.join(target, posix.basename(source)) : target;
}

function longListing(name: string, node: VirtualNode): string {
  const type = node.type === 'dir' ? 'd' : '-';
  const perms = [6, 3, 0]
    .map((shift) => {
      const bits = (node.mode >> shift) & 7;
      return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
    })
    .join('');
  const size = node.type === 'file' ? node.content.length : 4096;
  // `Nov 25 20:09`, the recent-file form ls uses.
  const [, day, month, , time] = node.mtime.toUTCString().split(' ');
  const date = `${month} ${day} ${time?.slice(0, 5)}`;
  return `${type}${perms} 1 ${node.owner} ${node.owner} ${size} ${date} ${name}`;
}
