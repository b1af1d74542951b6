/** Text filters provisioning scripts pipe through: `grep` (with -q, -i, -v, -c, -E, -F). */
import type { Command } from './interpreter';
import { VirtualFsError } from './virtual-fs';

export const textCommands: Record<string, Command> = {
  grep: async ({ argv, shell, readStdin }) => {
    let flags = '';
    const operands: string[] = [];
    for (const arg of argv.slice(1)) {
      if (/^-[A-Za-z]+$/.test(arg) && operands.length === 0) flags += arg.slice(1);
      else operands.push(arg);
    }
    const [pattern, ...paths] = operands;
    if (pattern === undefined) return { stderr: 'Usage: grep [OPTION]... PATTERNS [FILE]...\n', code: 2 };
    const source = flags.includes('F') ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : pattern;
    let matcher: RegExp;
    try {
      matcher = new RegExp(source, flags.includes('i') ? 'i' : '');
    } catch {
      return { stderr: 'grep: Invalid regular expression\n', code: 2 };
    }
    let text: string;
    try {
      text =
        paths.length === 0
          ? await readStdin()
          : paths.map((path) => shell.fs.readFile(shell.resolve(path)).toString()).join('');
    } catch (error) {
      if (error instanceof VirtualFsError) return { stderr: `grep: ${error.path}: ${error.reason}\n`, code: 2 };
      throw error;
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const selected = lines.filter((line) => matcher.test(line) !== flags.includes('v'));
    const code = selected.length > 0 ? 0 : 1;
    if (flags.includes('q')) return { code };
    if (flags.includes('c')) return { stdout: `${selected.length}\n`, code };
    return { stdout: selected.map((line) => `${line}\n`).join(''), code };
  },
};
