/**
 * A deliberately small POSIX-shell reader for the simulator: words with quotes, backslashes,
 * `$NAME`/`${NAME}`, `$(…)` and backticks kept as written (expand.ts expands them when the command
 * runs, as a shell does); `;` `&&` `||` `|` sequencing and `&` (an asynchronous list); `>`, `>>`,
 * `<`, `2>&1`-style redirections and here-documents; `if`, `for` and `while`/`until`. Anything beyond
 * that (`case`, functions, `{ …; }` and `( … )` groups) is refused with a syntax error instead of being
 * half-understood, because the simulator never hands a command line to a real shell.
 */
import { ShellSyntaxError } from './syntax-error';
import { scanWord } from './word-scan';

export { ShellSyntaxError };

export type Connector = ';' | '&&' | '||';

export interface Redirect {
  /** File descriptor being redirected: 0 (stdin), 1 (stdout) or 2 (stderr). */
  fd: number;
  /** `>` truncates, `>>` appends, `<` reads, `<<` feeds a here-document, `>&` duplicates onto another descriptor. */
  op: '>' | '>>' | '<' | '<<' | '>&';
  /** A word as written; for `>&` the target descriptor; for `<<` the here-document's body. */
  target: string;
  /** `<<'EOF'`: the body is taken literally, without expansion. @defaultValue false */
  literal?: boolean;
}

export interface SimpleCommand {
  kind: 'simple';
  /** `NAME=value` words before the command name, values as written. */
  assignments: Array<{ name: string; value: string }>;
  /** Words as written (quotes and `$…` still in them). */
  words: string[];
  redirects: Redirect[];
}

export interface IfCommand {
  kind: 'if';
  /** `if`/`elif` conditions with their bodies, in order. */
  branches: Array<{ condition: ListItem[]; body: ListItem[] }>;
  /** The `else` body. @defaultValue none */
  otherwise?: ListItem[];
}

export interface ForCommand {
  kind: 'for';
  variable: string;
  /** The words after `in`, as written. */
  items: string[];
  body: ListItem[];
}

export interface WhileCommand {
  kind: 'while';
  /** `until` loops while the condition fails. */
  until: boolean;
  condition: ListItem[];
  body: ListItem[];
}

export type ShellCommand = SimpleCommand | IfCommand | ForCommand | WhileCommand;

export interface ListItem {
  /** How this pipeline is joined to the previous one (`;` for the first, and after a `&`). */
  connector: Connector;
  pipeline: ShellCommand[];
  /**
   * Set on the last pipeline of an AND-OR list followed by `&`: that whole list (from the nearest
   * item joined by `;`) runs asynchronously. @defaultValue false
   */
  async?: boolean;
}

type Token =
  | { kind: 'word'; value: string }
  | { kind: 'op'; value: string }
  | { kind: 'redirect'; redirect: Omit<Redirect, 'target'> & { target?: string } };

const OPERATORS = ['&&', '||', '<<-', '<<', '>>', '>&', ';', '|', '>', '<', '&'];

interface PendingHeredoc {
  token: Extract<Token, { kind: 'redirect' }>;
  delimiter: string;
  /** `<<-` strips leading tabs from body lines and the delimiter line. */
  stripTabs: boolean;
}

/** Splits a command line into words (as written) and operators. */
class Lexer {
  readonly tokens: Token[] = [];
  private index = 0;
  private word: string | undefined;
  private readonly heredocs: PendingHeredoc[] = [];

  constructor(private readonly line: string) {}

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
      } else if (char === '\\' && line[this.index + 1] === '\n') {
        this.index += 2;
      } else {
        const end = scanWord(line, this.index);
        this.word = (this.word ?? '') + line.slice(this.index, end);
        this.index = end;
      }
    }
    this.flush();
    this.readHeredocBodies(line.length);
    return this.tokens;
  }

  private flush() {
    if (this.word !== undefined) this.tokens.push({ kind: 'word', value: this.word });
    this.word = undefined;
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
    const token: PendingHeredoc['token'] = {
      kind: 'redirect',
      redirect: { fd: 0, op: '<<', literal: match[1] !== '' },
    };
    this.heredocs.push({ token, delimiter: match[2]!, stripTabs });
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
      heredoc.token.redirect.target = body.map((text) => `${text}\n`).join('');
    }
    return index;
  }
}

function operatorToken(op: string, fd: number | undefined): Token {
  if (op === '>' || op === '>>' || op === '>&') return { kind: 'redirect', redirect: { fd: fd ?? 1, op } };
  if (op === '<') return { kind: 'redirect', redirect: { fd: 0, op } };
  return { kind: 'op', value: op };
}

/** Recursive descent over the tokens: lists, pipelines, simple and compound commands. */
class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  parseScript(): ListItem[] {
    const items = this.parseList(new Set());
    const rest = this.tokens[this.index];
    if (rest) throw unexpected(rest.kind === 'redirect' ? rest.redirect.op : rest.value);
    return items;
  }

  /**
   * Pipelines joined by `;`, `&&`, `||`, `&` or newlines, up to one of the `stop` reserved words. A `&`
   * ends an AND-OR list as `;` does, and marks it asynchronous.
   */
  private parseList(stop: Set<string>): ListItem[] {
    const items: ListItem[] = [];
    let connector: Connector = ';';
    while (true) {
      this.skipSeparators();
      const token = this.peek();
      if (!token || (token.kind === 'word' && stop.has(token.value))) {
        if (connector !== ';') throw new ShellSyntaxError('Syntax error: end of file unexpected');
        return items;
      }
      const item: ListItem = { connector, pipeline: this.parsePipeline() };
      items.push(item);
      const next = this.peek();
      if (next?.kind !== 'op' || next.value === '|') return items;
      this.index++;
      if (next.value === '&') {
        item.async = true;
        connector = ';';
      } else {
        connector = next.value as Connector;
      }
    }
  }

  private parsePipeline(): ShellCommand[] {
    const pipeline = [this.parseCommand()];
    while (this.isOp('|')) {
      this.index++;
      this.skipSeparators();
      pipeline.push(this.parseCommand());
    }
    return pipeline;
  }

  private parseCommand(): ShellCommand {
    const token = this.peek();
    if (token?.kind === 'op') throw unexpected(token.value);
    if (token?.kind === 'word') {
      if (token.value === 'if') return this.parseIf();
      if (token.value === 'for') return this.parseFor();
      if (token.value === 'while' || token.value === 'until') return this.parseWhile(token.value === 'until');
      for (const reserved of ['then', 'elif', 'else', 'fi', 'do', 'done']) {
        if (token.value === reserved) throw unexpected(reserved);
      }
    }
    return this.parseSimple();
  }

  private parseSimple(): SimpleCommand {
    const command: SimpleCommand = { kind: 'simple', assignments: [], words: [], redirects: [] };
    for (let token = this.peek(); token && token.kind !== 'op'; token = this.peek()) {
      this.index++;
      if (token.kind === 'word') {
        const assignment = /^([A-Za-z_]\w*)=/.exec(token.value);
        if (assignment && command.words.length === 0) {
          command.assignments.push({ name: assignment[1]!, value: token.value.slice(assignment[0].length) });
        } else {
          command.words.push(token.value);
        }
      } else if (token.redirect.target !== undefined) {
        command.redirects.push({ ...token.redirect, target: token.redirect.target });
      } else {
        const target = this.peek();
        if (target?.kind !== 'word') throw new ShellSyntaxError('Syntax error: redirection unexpected');
        command.redirects.push({ ...token.redirect, target: target.value });
        this.index++;
      }
    }
    if (command.words.length + command.assignments.length + command.redirects.length === 0) {
      throw new ShellSyntaxError('Syntax error: end of file unexpected');
    }
    return command;
  }

  private parseIf(): IfCommand {
    this.index++;
    const branches: IfCommand['branches'] = [];
    let otherwise: ListItem[] | undefined;
    while (true) {
      const condition = this.parseBody(new Set(['then']));
      this.expect('then');
      const body = this.parseBody(new Set(['elif', 'else', 'fi']));
      branches.push({ condition, body });
      const keyword = this.next();
      if (keyword === 'elif') continue;
      if (keyword === undefined) throw new ShellSyntaxError('Syntax error: end of file unexpected');
      if (keyword === 'else') {
        otherwise = this.parseBody(new Set(['fi']));
        this.expect('fi');
      }
      return { kind: 'if', branches, otherwise };
    }
  }

  private parseFor(): ForCommand {
    this.index++;
    const variable = this.next();
    if (!variable || !/^[A-Za-z_]\w*$/.test(variable))
      throw new ShellSyntaxError('Syntax error: Bad for loop variable');
    const items: string[] = [];
    if (this.isWord('in')) {
      this.index++;
      for (let token = this.peek(); token?.kind === 'word'; token = this.peek()) {
        items.push(token.value);
        this.index++;
      }
    }
    this.skipSeparators();
    this.expect('do');
    const body = this.parseBody(new Set(['done']));
    this.expect('done');
    return { kind: 'for', variable, items, body };
  }

  private parseWhile(until: boolean): WhileCommand {
    this.index++;
    const condition = this.parseBody(new Set(['do']));
    this.expect('do');
    const body = this.parseBody(new Set(['done']));
    this.expect('done');
    return { kind: 'while', until, condition, body };
  }

  /** A compound command's part: a non-empty list up to a reserved word. */
  private parseBody(stop: Set<string>): ListItem[] {
    const body = this.parseList(stop);
    if (body.length === 0) throw unexpected(this.peekWord() ?? 'end of file');
    return body;
  }

  private expect(word: string) {
    const found = this.next();
    if (found !== word)
      throw found === undefined ? new ShellSyntaxError('Syntax error: end of file unexpected') : unexpected(found);
  }

  /** Consumes the next token, returning its text if it is a word. */
  private next(): string | undefined {
    const token = this.tokens[this.index++];
    if (token?.kind === 'word') return token.value;
    if (token?.kind === 'op') return token.value;
    return token ? token.redirect.op : undefined;
  }

  private skipSeparators() {
    while (this.isOp(';')) this.index++;
  }

  private peek(): Token | undefined {
    return this.tokens[this.index];
  }

  private peekWord(): string | undefined {
    const token = this.peek();
    return token?.kind === 'word' ? token.value : undefined;
  }

  private isOp(value: string): boolean {
    const token = this.peek();
    return token?.kind === 'op' && token.value === value;
  }

  private isWord(value: string): boolean {
    return this.peekWord() === value;
  }
}

function unexpected(value: string) {
  return new ShellSyntaxError(`Syntax error: "${value}" unexpected`);
}

/** Reads a whole script into a list of pipelines joined by `;`, `&&`, `||` or `&`. */
export function parseScript(script: string): ListItem[] {
  return new Parser(new Lexer(script).run()).parseScript();
}
