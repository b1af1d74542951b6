/**
 * A deliberately small POSIX-shell reader for the simulator: words with single/double quotes and
 * backslashes, `$NAME`/`${NAME}` expansion, `;` `&&` `||` `|` sequencing, `>`, `>>`, `<`,
 * `2>&1`-style redirections and here-documents. Anything beyond that (command substitution,
 * background jobs, compound commands) is refused with a syntax error instead of being
 * half-understood, because the simulator never hands a command line to a real shell.
 */

export type Connector = ';' | '&&' | '||';

export interface Redirect {
  /** File descriptor being redirected: 0 (stdin), 1 (stdout) or 2 (stderr). */
  fd: number;
  /** `>` truncates, `>>` appends, `<` reads, `<<` feeds a here-document, `>&` duplicates onto another descriptor. */
  op: '>' | '>>' | '<' | '<<' | '>&';
  /** A path; for `>&` the target descriptor number as text; for `<<` the here-document's body. */
  target: string;
}

export interface SimpleCommand {
  /** `NAME=value` words before the command name; they only affect this command's environment. */
  assignments: Record<string, string>;
  argv: string[];
  redirects: Redirect[];
}

export interface ListItem {
  /** How this pipeline is joined to the previous one (`;` for the first). */
  connector: Connector;
  pipeline: SimpleCommand[];
}

/** Raised for input the mini-shell cannot read; the message follows dash's wording. */
export class ShellSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}

type Token =
  | { kind: 'word'; value: string; assignable: boolean }
  | { kind: 'op'; value: string }
  | { kind: 'redirect'; redirect: Omit<Redirect, 'target'> & { target?: string } };

const OPERATORS = ['&&', '||', '<<-', '<<', '>>', '>&', ';', '|', '>', '<', '&'];

interface PendingHeredoc {
  token: Extract<Token, { kind: 'redirect' }>;
  delimiter: string;
  /** A quoted delimiter (`<<'EOF'`) turns expansion off in the body. */
  literal: boolean;
  /** `<<-` strips leading tabs from body lines and the delimiter line. */
  stripTabs: boolean;
}

/** Splits a command line into words and operators, expanding variables from `env`. */
class Lexer {
  readonly tokens: Token[] = [];
  private index = 0;
  private word: string | undefined;
  private quotedBeforeEquals = false;
  private readonly heredocs: PendingHeredoc[] = [];

  constructor(
    private readonly line: string,
    private readonly env: Record<string, string | undefined>,
  ) {}

  run(): Token[] {
    const { line } = this;
    while (this.index < line.length) {
      const char = line[this.index]!;
      if (char === ' ' || char === '\t') {
        this.flush();
        this.index++;
      } else if (char === '\n') {
        this.flush();
        this.tokens.push({ kind: 'op', value: ';' });
        this.index = this.readHeredocBodies(this.index + 1);
      } else if (char === '#' && this.word === undefined) {
        while (this.index < line.length && line[this.index] !== '\n') this.index++;
      } else if ('&|;<>'.includes(char)) {
        this.readOperator();
      } else {
        this.readWordPart(char);
      }
    }
    this.flush();
    this.readHeredocBodies(line.length);
    return this.tokens;
  }

  private flush() {
    if (this.word !== undefined) {
      const assignable = !this.quotedBeforeEquals && /^[A-Za-z_]\w*=/.test(this.word);
      this.tokens.push({ kind: 'word', value: this.word, assignable });
    }
    this.word = undefined;
    this.quotedBeforeEquals = false;
  }

  private append(text: string, quoted: boolean) {
    if (quoted && !(this.word ?? '').includes('=')) this.quotedBeforeEquals = true;
    this.word = (this.word ?? '') + text;
  }

  private readWordPart(char: string) {
    const { line, env } = this;
    if (char === "'") {
      const end = line.indexOf("'", this.index + 1);
      if (end < 0) throw new ShellSyntaxError('Syntax error: Unterminated quoted string');
      this.append(line.slice(this.index + 1, end), true);
      this.index = end + 1;
    } else if (char === '"') {
      this.index = readDoubleQuoted(line, this.index + 1, env, (text) => this.append(text, true));
    } else if (char === '\\') {
      if (line[this.index + 1] !== '\n') this.append(line[this.index + 1] ?? '', true);
      this.index += 2;
    } else if (char === '$') {
      this.index = readVariable(line, this.index, env, (text) => this.append(text, false));
    } else if (char === '`') {
      throw new ShellSyntaxError('Syntax error: command substitution is not supported by the simulator');
    } else {
      this.append(char, false);
      this.index++;
    }
  }

  private readOperator() {
    const op = OPERATORS.find((candidate) => this.line.startsWith(candidate, this.index))!;
    const fdPrefix = this.word !== undefined && /^\d$/.test(this.word) && (op === '>' || op === '>>' || op === '>&');
    const fd = fdPrefix ? Number(this.word) : undefined;
    if (fdPrefix) this.word = undefined;
    this.flush();
    this.index += op.length;
    if (op === '<<' || op === '<<-') this.readHeredocStart(op === '<<-');
    else this.tokens.push(operatorToken(op, fd));
  }

  /** `<<WORD`, `<<'WORD'`, `<<-WORD`: the body follows from the next line. */
  private readHeredocStart(stripTabs: boolean) {
    const match = /^[ \t]*(['"]?)([A-Za-z0-9_.-]+)\1/.exec(this.line.slice(this.index));
    if (!match) throw new ShellSyntaxError('Syntax error: redirection unexpected');
    const token: PendingHeredoc['token'] = { kind: 'redirect', redirect: { fd: 0, op: '<<' } };
    this.heredocs.push({ token, delimiter: match[2]!, literal: match[1] !== '', stripTabs });
    this.tokens.push(token);
    this.index += match[0].length;
  }

  /** Reads the bodies of here-documents opened on the line that just ended; returns where parsing resumes. */
  private readHeredocBodies(start: number): number {
    let index = start;
    for (const heredoc of this.heredocs.splice(0)) {
      const body: string[] = [];
      while (index < this.line.length) {
        const end = this.line.indexOf('\n', index);
        const raw = this.line.slice(index, end < 0 ? this.line.length : end);
        index = end < 0 ? this.line.length : end + 1;
        const text = heredoc.stripTabs ? raw.replace(/^\t+/, '') : raw;
        if (text === heredoc.delimiter) break;
        body.push(text);
      }
      const content = body.map((text) => `${text}\n`).join('');
      heredoc.token.redirect.target = heredoc.literal ? content : expandVariables(content, this.env);
    }
    return index;
  }
}

function operatorToken(op: string, fd: number | undefined): Token {
  if (op === '&') throw new ShellSyntaxError('Syntax error: background jobs ("&") are not supported by the simulator');
  if (op === '>' || op === '>>' || op === '>&') return { kind: 'redirect', redirect: { fd: fd ?? 1, op } };
  if (op === '<') return { kind: 'redirect', redirect: { fd: 0, op } };
  return { kind: 'op', value: op };
}

/** `$NAME` / `${NAME}` expansion of an unquoted here-document body. */
function expandVariables(text: string, env: Record<string, string | undefined>): string {
  let out = '';
  for (let index = 0; index < text.length; ) {
    if (text[index] === '$') {
      index = readVariable(text, index, env, (value) => {
        out += value;
      });
    } else {
      out += text[index++];
    }
  }
  return out;
}

function readDoubleQuoted(
  line: string,
  start: number,
  env: Record<string, string | undefined>,
  emit: (text: string) => void,
): number {
  let index = start;
  let text = '';
  while (index < line.length && line[index] !== '"') {
    const char = line[index]!;
    if (char === '\\' && '$`"\\\n'.includes(line[index + 1] ?? '')) {
      if (line[index + 1] !== '\n') text += line[index + 1];
      index += 2;
    } else if (char === '$') {
      index = readVariable(line, index, env, (value) => {
        text += value;
      });
    } else if (char === '`') {
      throw new ShellSyntaxError('Syntax error: command substitution is not supported by the simulator');
    } else {
      text += char;
      index++;
    }
  }
  if (index >= line.length) throw new ShellSyntaxError('Syntax error: Unterminated quoted string');
  emit(text);
  return index + 1;
}

function readVariable(
  line: string,
  start: number,
  env: Record<string, string | undefined>,
  emit: (text: string) => void,
): number {
  const rest = line.slice(start + 1);
  if (rest.startsWith('(')) {
    throw new ShellSyntaxError('Syntax error: command substitution is not supported by the simulator');
  }
  const braced = /^\{([A-Za-z_]\w*)\}/.exec(rest);
  const bare = /^[A-Za-z_]\w*|^[?$#0-9]/.exec(rest);
  const match = braced ?? bare;
  if (!match) {
    emit('$');
    return start + 1;
  }
  emit(env[braced ? braced[1]! : match[0]] ?? '');
  return start + 1 + match[0].length;
}

/** Reads a whole command line into a list of pipelines joined by `;`, `&&` or `||`. */
export function parseScript(line: string, env: Record<string, string | undefined> = {}): ListItem[] {
  const tokens = new Lexer(line, env).run();
  const items: ListItem[] = [];
  let connector: Connector = ';';
  let pipeline: SimpleCommand[] = [];
  let command: SimpleCommand = emptyCommand();

  const unexpected = (value: string) => new ShellSyntaxError(`Syntax error: "${value}" unexpected`);
  const endCommand = (op: string) => {
    if (isEmptyCommand(command)) throw unexpected(op);
    pipeline.push(command);
    command = emptyCommand();
  };

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'word') {
      if (token.assignable && command.argv.length === 0) {
        const equals = token.value.indexOf('=');
        command.assignments[token.value.slice(0, equals)] = token.value.slice(equals + 1);
      } else {
        command.argv.push(token.value);
      }
    } else if (token.kind === 'redirect' && token.redirect.target !== undefined) {
      command.redirects.push({ ...token.redirect, target: token.redirect.target });
    } else if (token.kind === 'redirect') {
      const target = tokens[i + 1];
      if (target?.kind !== 'word') throw new ShellSyntaxError('Syntax error: redirection unexpected');
      command.redirects.push({ ...token.redirect, target: target.value });
      i++;
    } else if (token.value === '|') {
      endCommand('|');
    } else {
      // A newline after `;`, `&&` or `||` (or at the start) is just a line break, not an empty command.
      if (token.value === ';' && isEmptyCommand(command) && pipeline.length === 0) continue;
      endCommand(token.value);
      items.push({ connector, pipeline });
      pipeline = [];
      connector = token.value as Connector;
    }
  }
  if (!isEmptyCommand(command)) {
    pipeline.push(command);
    items.push({ connector, pipeline });
  } else if (pipeline.length > 0 || connector !== ';') {
    throw new ShellSyntaxError('Syntax error: end of file unexpected');
  }
  return items;
}

function emptyCommand(): SimpleCommand {
  return { assignments: {}, argv: [], redirects: [] };
}

function isEmptyCommand(command: SimpleCommand): boolean {
  return command.argv.length === 0 && command.redirects.length === 0 && Object.keys(command.assignments).length === 0;
}
