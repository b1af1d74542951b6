import { posix } from 'node:path';
import { runCompound } from './compound';
import { type ExpansionContext, expandHeredoc, expandText, expandWord } from './expand';
import { ShellJobs } from './jobs';
import {
  type ListItem,
  parseScript,
  type Redirect,
  type ShellCommand,
  ShellSyntaxError,
  type SimpleCommand,
} from './parse';
import { type VirtualFile, VirtualFs, VirtualFsError } from './virtual-fs';

/** One run of a command: its arguments (argv[0] is the name), environment, stdin and the shell running it. */
export interface Invocation {
  argv: string[];
  env: Record<string, string>;
  shell: Shell;
  /** The command's whole standard input (waits for the client's EOF when it comes from SSH). */
  readStdin(): Promise<string>;
  /** Fires when the command is killed (its session signalled, or its channel closed): a wait ends early. */
  signal: AbortSignal;
}

export interface CommandOutcome {
  stdout?: string;
  stderr?: string;
  /** @defaultValue 0 */
  code?: number;
  /** Set by `exit`: stop the script that ran this command. */
  exit?: boolean;
}

export type Command = (invocation: Invocation) => Promise<CommandOutcome> | CommandOutcome;

export interface ShellStreams {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The session's standard input. @defaultValue empty */
  stdin?: () => Promise<string>;
  /**
   * Fires when the session's commands are killed: the command waiting stops, and nothing after it
   * runs. Subshells and asynchronous lists share it. @defaultValue the signal the shell has already
   */
  signal?: AbortSignal;
}

export interface ShellOptions {
  fs: VirtualFs;
  /** Commands by name; anything else is `not found` (127). */
  commands: Record<string, Command>;
  /** User the shell runs as (`root` has every right). */
  user: string;
  /** @defaultValue the user's home */
  cwd?: string;
  /** @defaultValue HOME, USER, LOGNAME, PATH, SHELL for the user */
  env?: Record<string, string>;
  /** May `user` create or change the file at `path`? @defaultValue always */
  mayWrite?: (user: string, path: string) => boolean;
  /** Told about every file a command, redirection or SFTP wrote or chmod-ed, e.g. to record a guest effect. */
  onFileChanged?: (path: string, file: VirtualFile, user: string) => void;
}

/** Raised by Shell.writeFile when the user may not write there; carries the shell's wording. */
export class PermissionDeniedError extends Error {
  constructor(readonly path: string) {
    super(`${path}: Permission denied`);
    this.name = 'PermissionDeniedError';
  }
}

/**
 * Runs command lines against a virtual filesystem and a table of simulated commands. Never executes
 * anything on the real machine. `sh -c`, `sudo` and pipes reuse this same interpreter.
 */
export class Shell {
  readonly fs: VirtualFs;
  readonly user: string;
  cwd: string;
  readonly env: Record<string, string>;
  /** `set -e`: stop at the first failing command that is not tested by `&&`/`||`. */
  errexit = false;
  /** `$?`: the status of the last pipeline (or command substitution). */
  lastStatus = 0;
  /** How many `if`/`while` conditions are running, where `set -e` does not apply. */
  private testedDepth = 0;
  /** The asynchronous lists this shell started (`wait` and `$!` read them). */
  readonly jobs = new ShellJobs(SIMULATED_PID + 1);
  /** Fires when this shell's commands are killed (set by `run`, inherited by subshells and `sudo`). */
  signal: AbortSignal = NEVER_KILLED;

  constructor(readonly options: ShellOptions) {
    this.fs = options.fs;
    this.user = options.user;
    const home = homeOf(options.user);
    this.cwd = options.cwd ?? home;
    this.env = options.env ?? {
      HOME: home,
      USER: options.user,
      LOGNAME: options.user,
      SHELL: '/bin/bash',
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    };
  }

  /** A shell for another user over the same filesystem and commands (what `sudo` gives). */
  as(user: string): Shell {
    const env = { ...this.env, USER: user, LOGNAME: user, HOME: homeOf(user) };
    const shell = new Shell({ ...this.options, user, env, cwd: this.cwd });
    shell.signal = this.signal;
    return shell;
  }

  /** A subshell (`sh -c`): same user and directory, its own `set -e` and `exit`. */
  subshell(): Shell {
    const shell = new Shell({ ...this.options, env: { ...this.env }, cwd: this.cwd });
    shell.signal = this.signal;
    return shell;
  }

  /**
   * Runs a whole command line; resolves with its exit status once the asynchronous lists it left
   * running have ended too: they still hold its output (an SSH session's channel, a pipe, a command
   * substitution), which does not end before them.
   */
  async run(script: string, streams: ShellStreams): Promise<number> {
    if (streams.signal) this.signal = streams.signal;
    let items: ListItem[];
    try {
      items = parseScript(script);
    } catch (error) {
      if (!(error instanceof ShellSyntaxError)) throw error;
      streams.stderr(`sh: 1: ${error.message}\n`);
      return 2;
    }
    const { code } = await this.runList(items, streams);
    await this.jobs.settled();
    return code;
  }

  /**
   * Runs pipelines joined by `;`, `&&`, `||` and `&`; `exit` or a `set -e` failure ends the whole
   * script. An AND-OR list followed by `&` is started and left running (see `startJob`); the list
   * after it goes on at once.
   */
  async runList(items: ListItem[], streams: ShellStreams): Promise<Status> {
    let result: Status = { code: 0, exit: false };
    for (const list of andOrLists(items)) {
      if (list.at(-1)!.async) {
        this.startJob(list, streams);
        // An asynchronous list's own status is zero (POSIX 2.9.3.1).
        result = { code: 0, exit: false };
        this.lastStatus = 0;
        continue;
      }
      result = await this.runAndOr(list, streams);
      if (result.exit) return result;
    }
    return result;
  }

  /** One AND-OR list: pipelines joined by `&&` and `||`, each run or skipped by the status before it. */
  private async runAndOr(list: ListItem[], streams: ShellStreams): Promise<Status> {
    let result: Status = { code: 0, exit: false };
    for (const [index, item] of list.entries()) {
      // A killed shell runs nothing more (a loop of short commands ends too, not only a wait).
      if (this.signal.aborted) return { code: KILLED_STATUS, exit: true };
      if ((item.connector === '&&' && result.code !== 0) || (item.connector === '||' && result.code === 0)) continue;
      result = await this.runPipeline(item.pipeline, streams);
      this.lastStatus = result.code;
      if (result.exit) return result;
      const tested = index < list.length - 1 || item.connector !== ';' || this.testedDepth > 0;
      if (this.errexit && result.code !== 0 && !tested) return { code: result.code, exit: true };
    }
    return result;
  }

  /**
   * Starts an asynchronous list as a shell without job control does (POSIX 2.9.3.1): in a subshell
   * environment (its assignments, `cd` and `exit` stay its own), with standard input from /dev/null,
   * writing to the same output; `$!` names it until the next one starts, and `wait` collects its status.
   */
  private startJob(list: ListItem[], streams: ShellStreams): void {
    const subshell = this.subshell();
    subshell.errexit = this.errexit;
    subshell.lastStatus = this.lastStatus;
    const items = list.map((item, index) => (index === list.length - 1 ? { ...item, async: false } : item));
    this.jobs.started(
      subshell
        .runList(items, { stdout: streams.stdout, stderr: streams.stderr, stdin: async () => '' })
        .then((status) => subshell.jobs.settled().then(() => status.code)),
    );
  }

  /** Runs a list whose status is tested (an `if` or `while` condition), where `set -e` does not apply. */
  async runCondition(items: ListItem[], streams: ShellStreams): Promise<Status> {
    this.testedDepth++;
    try {
      return await this.runList(items, streams);
    } finally {
      this.testedDepth--;
    }
  }

  /** How words expand in this shell: its variables, `$?`, and command substitution in a subshell. */
  expansion(stderr: (text: string) => void): ExpansionContext {
    return {
      lookup: (name) => {
        if (name === '?') return String(this.lastStatus);
        if (name === '$') return String(SIMULATED_PID);
        if (name === '!') return this.jobs.lastPid === undefined ? undefined : String(this.jobs.lastPid);
        if (name === '#') return '0';
        if (name === '0') return 'sh';
        return this.env[name];
      },
      substitute: async (script) => {
        let output = '';
        const subshell = this.subshell();
        this.lastStatus = await subshell.run(script, { stdout: (text) => (output += text), stderr });
        return output;
      },
    };
  }

  /** Runs one already-split command (argv[0] is the name) with the given stdin; used by `sudo`, `xargs`-likes. */
  async execute(argv: string[], stdin: () => Promise<string>, env: Record<string, string> = {}) {
    const name = argv[0] ?? '';
    const command = this.options.commands[name] ?? this.options.commands[posix.basename(name)];
    if (!command) return { stdout: '', stderr: `sh: 1: ${name}: not found\n`, code: 127, exit: false };
    const outcome = await command({
      argv,
      env: { ...this.env, ...env },
      shell: this,
      readStdin: stdin,
      signal: this.signal,
    });
    return {
      stdout: outcome.stdout ?? '',
      stderr: outcome.stderr ?? '',
      code: outcome.code ?? 0,
      exit: !!outcome.exit,
    };
  }

  /** Writes a file as this shell's user, honouring the permission policy and reporting the write. */
  writeFile(
    path: string,
    content: Buffer | string,
    options: { append?: boolean; mode?: number; quiet?: boolean } = {},
  ) {
    const resolved = this.requireWritable(path);
    this.fs.writeFile(resolved, content, { ...options, owner: this.user });
    if (!options.quiet) this.reportChange(resolved);
  }

  /** Changes permission bits as this shell's user (same policy as writes). */
  chmod(path: string, mode: number) {
    const resolved = this.requireWritable(path);
    this.fs.chmod(resolved, mode);
    this.reportChange(resolved);
  }

  /** Resolves `path` and checks the write policy for it; throws PermissionDeniedError. */
  requireWritable(path: string): string {
    const resolved = VirtualFs.resolve(path, this.cwd);
    if (this.options.mayWrite && !this.options.mayWrite(this.user, resolved)) throw new PermissionDeniedError(path);
    return resolved;
  }

  private reportChange(resolved: string) {
    const file = this.fs.stat(resolved);
    if (file?.type === 'file') this.options.onFileChanged?.(resolved, file, this.user);
  }

  /** Resolves a path the way commands see it, relative to the working directory. */
  resolve(path: string): string {
    return VirtualFs.resolve(path, this.cwd);
  }

  private async runPipeline(pipeline: ShellCommand[], streams: ShellStreams): Promise<Status> {
    let stdin = streams.stdin ?? (async () => '');
    let last: Status = { code: 0, exit: false };
    for (const [index, command] of pipeline.entries()) {
      const isLast = index === pipeline.length - 1;
      let piped = '';
      const stdout = isLast ? streams.stdout : (text: string) => (piped += text);
      const sinks = { stdout, stderr: streams.stderr, stdin };
      last =
        command.kind === 'simple' ? await this.runCommand(command, sinks) : await runCompound(this, command, sinks);
      const output = piped;
      stdin = async () => output;
    }
    return last;
  }

  private async runCommand(command: SimpleCommand, streams: Required<Omit<ShellStreams, 'signal'>>): Promise<Status> {
    const context = this.expansion(streams.stderr);
    const argv: string[] = [];
    for (const word of command.words) argv.push(...(await expandWord(word, context)));
    const assignments: Record<string, string> = {};
    for (const { name, value } of command.assignments) assignments[name] = await expandText(value, context);
    const expandedStatus = this.lastStatus;
    let routes: Routes;
    try {
      routes = this.openRedirects(await this.expandRedirects(command.redirects, context), streams.stdin, streams);
    } catch (error) {
      streams.stderr(`sh: 1: ${describeRedirectError(error)}\n`);
      return { code: 2, exit: false };
    }
    if (argv.length === 0) {
      // A bare assignment sets the shell's variable; its status is that of the last substitution.
      Object.assign(this.env, assignments);
      return { code: command.assignments.length > 0 ? expandedStatus : 0, exit: false };
    }
    const result = await this.execute(argv, routes.stdin, assignments);
    try {
      routes.stdout(result.stdout);
      routes.stderr(result.stderr);
    } catch (error) {
      streams.stderr(`sh: 1: ${describeRedirectError(error)}\n`);
      return { code: 2, exit: false };
    }
    return { code: result.code, exit: result.exit };
  }

  private async expandRedirects(redirects: Redirect[], context: ExpansionContext): Promise<Redirect[]> {
    const expanded: Redirect[] = [];
    for (const redirect of redirects) {
      let target = redirect.target;
      if (redirect.op !== '<<') target = await expandText(target, context);
      else if (!redirect.literal) target = await expandHeredoc(target, context);
      expanded.push({ ...redirect, target });
    }
    return expanded;
  }

  /** Applies redirections left to right, as POSIX does (`> f 2>&1` sends both to f). */
  private openRedirects(
    redirects: Redirect[],
    stdin: () => Promise<string>,
    sinks: { stdout(text: string): void; stderr(text: string): void },
  ): Routes {
    const outputs: Record<number, (text: string) => void> = { 1: sinks.stdout, 2: sinks.stderr };
    let input = stdin;
    for (const redirect of redirects) {
      if (redirect.op === '<<') {
        const body = redirect.target;
        input = async () => body;
      } else if (redirect.op === '<') {
        const content = this.readForRedirect(redirect.target);
        input = async () => content;
      } else if (redirect.op === '>&') {
        const target = outputs[Number(redirect.target)];
        if (!target) throw new ShellSyntaxError(`${redirect.target}: Bad file descriptor`);
        outputs[redirect.fd] = target;
      } else {
        outputs[redirect.fd] = this.fileSink(redirect.target, redirect.op === '>>');
      }
    }
    return { stdin: input, stdout: outputs[1]!, stderr: outputs[2]! };
  }

  private readForRedirect(path: string): string {
    try {
      return this.fs.readFile(this.resolve(path)).toString();
    } catch (error) {
      if (error instanceof VirtualFsError) throw new ShellSyntaxError(`cannot open ${path}: No such file`);
      throw error;
    }
  }

  private fileSink(path: string, append: boolean): (text: string) => void {
    if (path === '/dev/null') return () => {};
    // Create or truncate now, as the shell does before the command runs; report only real content.
    this.writeFile(path, '', { append, quiet: true });
    return (text) => {
      if (text) this.writeFile(path, text, { append: true });
    };
  }
}

/**
 * A script's items as AND-OR lists: each begins at the first item or one joined by `;` (which a `&`
 * also ends), and takes the items joined to it by `&&` and `||`.
 */
function andOrLists(items: ListItem[]): ListItem[][] {
  const lists: ListItem[][] = [];
  for (const item of items) {
    const current = lists.at(-1);
    if (current && item.connector !== ';') current.push(item);
    else lists.push([item]);
  }
  return lists;
}

/** What a pipeline or compound command ended with; `exit` stops the script. */
export interface Status {
  code: number;
  exit: boolean;
}

/** What `$$` answers: a guest has no real process to name. */
const SIMULATED_PID = 4242;

/**
 * The status a command ended by a signal leaves its shell with: 128 + the signal's number (SIGKILL's,
 * when the session just went away).
 */
export const KILLED_STATUS = 128 + 9;

/** The signal of a shell nobody can kill (one run without a session's signal). */
const NEVER_KILLED = new AbortController().signal;

interface Routes {
  stdin: () => Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
}

function describeRedirectError(error: unknown): string {
  if (error instanceof PermissionDeniedError) return `cannot create ${error.path}: Permission denied`;
  if (error instanceof VirtualFsError) {
    const reason = error.code === 'ENOENT' ? 'Directory nonexistent' : error.reason;
    return `cannot create ${error.path}: ${reason}`;
  }
  if (error instanceof Error) return error.message;
  throw error;
}

/** Home directory of a user, as cloud-init creates it. */
export function homeOf(user: string): string {
  return user === 'root' ? '/root' : `/home/${user}`;
}
