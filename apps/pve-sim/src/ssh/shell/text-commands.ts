/** Text filters provisioning scripts pipe through: `grep` (-q -i -v -c -E -F), `head`/`tail` (-n, -c), `wc` (-l -w -c). */
import type { Command, Invocation } from './interpreter';
import { VirtualFsError } from './virtual-fs';

/** The text of the operand files, or stdin without operands. */
async function inputText({ shell, readStdin }: Invocation, paths: string[]): Promise<string> {
  if (paths.length === 0) return readStdin();
  return paths.map((path) => shell.fs.readFile(shell.resolve(path)).toString()).join('');
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** `head`/`tail`: the first or last N lines (`-n N`, `-N`) or bytes (`-c N`). */
function slicer(fromEnd: boolean): Command {
  return async (invocation) => {
    let lines = 10;
    let bytes: number | undefined;
    const paths: string[] = [];
    const args = invocation.argv.slice(1);
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '-n') lines = Number(args[++i]);
      else if (arg === '-c') bytes = Number(args[++i]);
      else if (/^-\d+$/.test(arg)) lines = Number(arg.slice(1));
      else paths.push(arg);
    }
    const name = invocation.argv[0];
    try {
      const text = await inputText(invocation, paths);
      if (bytes !== undefined) return { stdout: fromEnd ? text.slice(-bytes) : text.slice(0, bytes) };
      const all = splitLines(text);
      const chosen = fromEnd ? all.slice(Math.max(0, all.length - lines)) : all.slice(0, lines);
      return { stdout: chosen.map((line) => `${line}\n`).join('') };
    } catch (error) {
      if (error instanceof VirtualFsError)
        return { stderr: `${name}: cannot open '${error.path}' for reading: ${error.reason}\n`, code: 1 };
      throw error;
    }
  };
}

export const textCommands: Record<string, Command> = {
  head: slicer(false),
  tail: slicer(true),
  wc: async (invocation) => {
    const flags = invocation.argv
      .slice(1)
      .filter((arg) => arg.startsWith('-'))
      .join('');
    const paths = invocation.argv.slice(1).filter((arg) => !arg.startsWith('-'));
    try {
      const text = await inputText(invocation, paths);
      const counts = {
        l: splitLines(text).length,
        w: text.split(/\s+/).filter(Boolean).length,
        c: Buffer.byteLength(text),
      };
      const chosen = (['l', 'w', 'c'] as const).filter((flag) => flags.includes(flag) || flags === '');
      return {
        stdout: `${chosen.map((flag) => counts[flag]).join(' ')}${paths.length ? ` ${paths.join(' ')}` : ''}\n`,
      };
    } catch (error) {
      if (error instanceof VirtualFsError) return { stderr: `wc: ${error.path}: ${error.reason}\n`, code: 1 };
      throw error;
    }
  },
  grep: async (invocation) => {
    const { argv } = invocation;
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
      text = await inputText(invocation, paths);
    } catch (error) {
      if (error instanceof VirtualFsError) return { stderr: `grep: ${error.path}: ${error.reason}\n`, code: 2 };
      throw error;
    }
    const selected = splitLines(text).filter((line) => matcher.test(line) !== flags.includes('v'));
    const code = selected.length > 0 ? 0 : 1;
    if (flags.includes('q')) return { code };
    if (flags.includes('c')) return { stdout: `${selected.length}\n`, code };
    return { stdout: selected.map((line) => `${line}\n`).join(''), code };
  },
};
