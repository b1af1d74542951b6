import type { Command, CommandOutcome, Invocation, Shell } from './interpreter';
import { realTime, sleepCommand } from './sleep';
import { VirtualFsError } from './virtual-fs';

/** Shell control commands every simulated shell has: sequencing helpers, `sh -c`, `test`, `echo`. */
export const builtins: Record<string, Command> = {
  true: () => ({}),
  ':': () => ({}),
  false: () => ({ code: 1 }),
  echo: ({ argv }) => {
    const noNewline = argv[1] === '-n';
    const words = argv.slice(noNewline ? 2 : 1);
    return { stdout: words.join(' ') + (noNewline ? '' : '\n') };
  },
  printf: ({ argv }) => ({ stdout: formatPrintf(argv[1] ?? '', argv.slice(2)) }),
  pwd: ({ shell }) => ({ stdout: `${shell.cwd}\n` }),
  whoami: ({ shell }) => ({ stdout: `${shell.user}\n` }),
  id: ({ argv, shell }) => {
    // Cloud-init's default user is the first regular account (uid 1000) and a member of sudo.
    const uid = shell.user === 'root' ? 0 : 1000;
    const flags = argv.slice(1).join('');
    if (flags.includes('u')) return { stdout: `${flags.includes('n') ? shell.user : uid}\n` };
    const groups = uid === 0 ? '0(root)' : `1000(${shell.user}),27(sudo)`;
    return { stdout: `uid=${uid}(${shell.user}) gid=${uid}(${uid === 0 ? 'root' : shell.user}) groups=${groups}\n` };
  },
  // Real time here; a simulator's guests and nodes pass theirs scaled (guestCommands, nodeCommands).
  sleep: sleepCommand(realTime),
  // File modes come from each write's own mode; a umask changes nothing the simulator records.
  umask: () => ({}),
  exit: ({ argv }) => {
    const code = argv[1] === undefined ? 0 : Number(argv[1]);
    if (!Number.isInteger(code)) return { stderr: `sh: 1: exit: Illegal number: ${argv[1]}\n`, code: 2, exit: true };
    return { code: code & 0xff, exit: true };
  },
  cd: ({ argv, shell, env }) => {
    const target = shell.resolve(argv[1] ?? env.HOME ?? '/');
    if (shell.fs.stat(target)?.type !== 'dir') return { stderr: `sh: 1: cd: can't cd to ${argv[1]}\n`, code: 2 };
    shell.cwd = target;
    return {};
  },
  export: ({ argv, shell }) => {
    for (const word of argv.slice(1)) {
      const equals = word.indexOf('=');
      if (equals > 0) shell.env[word.slice(0, equals)] = word.slice(equals + 1);
    }
    return {};
  },
  set: ({ argv, shell }) => {
    for (const flag of argv.slice(1)) {
      if (/^-[a-z]*e/.test(flag)) shell.errexit = true;
      if (/^\+[a-z]*e/.test(flag)) shell.errexit = false;
    }
    return {};
  },
  test: ({ argv, shell }) => ({ code: evaluateTest(argv.slice(1), shell) ? 0 : 1 }),
  '[': ({ argv, shell }) => {
    if (argv.at(-1) !== ']') return { stderr: 'sh: 1: [: missing ]\n', code: 2 };
    return { code: evaluateTest(argv.slice(1, -1), shell) ? 0 : 1 };
  },
  // `! cmd` negates a status; treated as a command word, which covers the simple-command case.
  '!': async ({ argv, shell, readStdin }) => {
    const result = await shell.execute(argv.slice(1), readStdin);
    return { ...result, code: result.code === 0 ? 1 : 0, exit: false };
  },
  // `env [-i] [NAME=value…] [cmd…]`: runs cmd with extra variables, or prints the environment.
  env: ({ argv, shell, readStdin, env }) => {
    const start = argv[1] === '-i' || argv[1] === '-' ? 2 : 1;
    const { assignments: extra, index } = leadingAssignments(argv, start);
    if (index >= argv.length) {
      const all = { ...env, ...extra };
      return {
        stdout: Object.keys(all)
          .map((name) => `${name}=${all[name]}\n`)
          .join(''),
      };
    }
    return shell.execute(argv.slice(index), readStdin, { ...env, ...extra });
  },
  sh: runSubshell,
  bash: runSubshell,
  // `exec cmd…` replaces the shell: cmd runs and nothing after it in the script does.
  exec: async ({ argv, shell, readStdin }) => {
    if (argv.length < 2) return {};
    return { ...(await shell.execute(argv.slice(1), readStdin)), exit: true };
  },
  // `timeout [-s SIG] [-k DUR] DUR cmd…`: the command runs and its status is the result, as with
  // timeout(1), but the bound is not enforced. Only a guest's waits (`sleep`, network timeouts) are
  // scaled, not the real work of its commands, so a bound in scaled time would cut a command at a
  // hundredth of DUR in real time in tests, long before the SSH client's own (real-time) deadline
  // that it is there to back up; that deadline bounds every command the installer runs.
  timeout: ({ argv, shell, readStdin }) => {
    let index = 1;
    while (argv[index]?.startsWith('-')) {
      const option = argv[index]!;
      index += /^-[sk]$|^--(signal|kill-after)$/.test(option) ? 2 : 1;
    }
    if (!/^\d+(\.\d+)?[smhd]?$/.test(argv[index] ?? '')) {
      return { stderr: `timeout: invalid time interval '${argv[index] ?? ''}'\n`, code: 125 };
    }
    if (argv[index + 1] === undefined) return { stderr: 'timeout: missing operand\n', code: 125 };
    return shell.execute(argv.slice(index + 1), readStdin);
  },
  // `wait [pid…]` (POSIX): the asynchronous lists this shell started; job ids (`%1`) need job control.
  wait: async ({ argv, shell }) => {
    const operands = argv.slice(1);
    const bad = operands.find((operand) => !/^\d+$/.test(operand));
    if (bad !== undefined) {
      if (bad.startsWith('%')) return { stderr: `sh: 1: wait: job ids are not supported by the simulator\n`, code: 2 };
      return { stderr: `sh: 1: wait: Illegal number: ${bad}\n`, code: 2 };
    }
    return { code: await shell.jobs.wait(operands.length === 0 ? undefined : operands.map(Number)) };
  },
  // A guest has no real processes: whatever pid is named, there is nothing to signal.
  kill: ({ argv }) => {
    const target = argv.filter((word) => !word.startsWith('-') || /^-\d+$/.test(word)).at(-1) ?? '';
    return { stderr: `sh: 1: kill: No such process\n`, code: target ? 1 : 2 };
  },
};

/** `NAME=value` words at `argv[start…]` (as `env` and `sudo` accept them) and where the command begins. */
export function leadingAssignments(argv: string[], start: number) {
  const assignments: Record<string, string> = {};
  let index = start;
  for (; /^[A-Za-z_]\w*=/.test(argv[index] ?? ''); index++) {
    const word = argv[index]!;
    const equals = word.indexOf('=');
    assignments[word.slice(0, equals)] = word.slice(equals + 1);
  }
  return { assignments, index };
}

/**
 * `sh -c 'script'`, `bash -lc 'script'`, `sh file`, or `sh`/`bash -s` reading the script from stdin:
 * all run by the same interpreter in a subshell.
 */
async function runSubshell({ argv, shell, readStdin }: Invocation): Promise<CommandOutcome> {
  let index = 1;
  let command = false;
  let errexit = false;
  while (index < argv.length && /^[-+][a-z]+$/.test(argv[index]!)) {
    const flags = argv[index]!;
    if (flags.includes('c')) command = true;
    if (flags.startsWith('-') && flags.includes('e')) errexit = true;
    index++;
  }
  let script: string;
  if (command) {
    if (argv[index] === undefined) return { stderr: `${argv[0]}: -c: option requires an argument\n`, code: 2 };
    script = argv[index]!;
  } else if (argv[index] !== undefined) {
    try {
      script = shell.fs.readFile(shell.resolve(argv[index]!)).toString();
    } catch (error) {
      if (!(error instanceof VirtualFsError)) throw error;
      return { stderr: `${argv[0]}: 0: cannot open ${argv[index]}: No such file\n`, code: 2 };
    }
  } else {
    script = await readStdin();
  }
  const subshell = shell.subshell();
  subshell.errexit = errexit;
  let stdout = '';
  let stderr = '';
  const code = await subshell.run(script, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stdin: command ? readStdin : async () => '',
  });
  return { stdout, stderr, code };
}

/** `test` / `[` expressions the provisioning scripts use: file tests, string and integer comparisons, `!`. */
function evaluateTest(args: string[], shell: Shell): boolean {
  if (args[0] === '!') return !evaluateTest(args.slice(1), shell);
  if (args.length === 0) return false;
  if (args.length === 1) return args[0] !== '';
  const [left, operator, right] = args as [string, string, string | undefined];
  if (args.length === 2) {
    const node = shell.fs.stat(shell.resolve(operator));
    switch (left) {
      case '-e':
        return !!node;
      case '-f':
        return node?.type === 'file';
      case '-d':
        return node?.type === 'dir';
      case '-s':
        return node?.type === 'file' && node.content.length > 0;
      case '-x':
        return !!node && (node.mode & 0o111) !== 0;
      case '-r':
      case '-w':
        return !!node;
      case '-n':
        return operator !== '';
      case '-z':
        return operator === '';
      default:
        return false;
    }
  }
  const comparisons: Record<string, (a: string, b: string) => boolean> = {
    '=': (a, b) => a === b,
    '==': (a, b) => a === b,
    '!=': (a, b) => a !== b,
    '-eq': (a, b) => Number(a) === Number(b),
    '-ne': (a, b) => Number(a) !== Number(b),
    '-lt': (a, b) => Number(a) < Number(b),
    '-le': (a, b) => Number(a) <= Number(b),
    '-gt': (a, b) => Number(a) > Number(b),
    '-ge': (a, b) => Number(a) >= Number(b),
  };
  return comparisons[operator]?.(left, right ?? '') ?? false;
}

/** `printf` with `%s`, `%d`, `%%` and backslash escapes; the format is reused while arguments remain. */
function formatPrintf(format: string, args: string[]): string {
  const escaped = format.replace(/\\([nt\\])/g, (_, char: string) => ({ n: '\n', t: '\t', '\\': '\\' })[char]!);
  let output = '';
  const remaining = [...args];
  while (true) {
    const before = remaining.length;
    output += escaped.replace(/%([sd%])/g, (_, spec: string) => {
      if (spec === '%') return '%';
      const value = remaining.shift() ?? '';
      return spec === 'd' ? String(Number.parseInt(value || '0', 10)) : value;
    });
    if (remaining.length === 0 || remaining.length === before) return output;
  }
}
