/**
 * A deliberately small POSIX-shell reader for the simulator: words with single/double quotes and
 * backslashes, `$NAME`/`${NAME}` expansion, `;` `&&` `||` `|` sequencing, and `>`, `>>`, `<`,
 * `2>&1`-style redirections. Anything beyond that (command substitution, background jobs, here-docs)
 * is refused with a syntax error instead of being half-understood, because the simulator never hands a
 * command line to a real shell.
 */

export type Connector = ';' | '&&' | '||';

export interface Redirect {
  /** File descriptor being redirected: 0 (stdin), 1 (stdout) or 2 (stderr). */
  fd: number;
  /** `>` truncates, `>>` appends, `<` reads, `>&` duplicates onto another descriptor. */
  op: '>' | '>>' | '<' | '>&';
  /** A path, or for `>&` the target descriptor number as text. */
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

const OPERATORS = ['&&', '||', '>>', '>&', ';', '|', '>', '<', '&'];

/** Splits a command line into words and operators, expanding variables from `env`. */
function tokenize(line: string, env: Record<string, string | undefined> = {}): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  let word: string | undefined;
  let quotedBeforeEquals = false;

  const flush = () => {
    if (word !== undefined) {
      tokens.push({ kind: 'word', value: word, assignable: !quotedBeforeEquals && /^[A-Za-z_]\w*=/.test(word) });
    }
    word = undefined;
    quotedBeforeEquals = false;
  };
  const append = (text: string, quoted: boolean) => {
    if (quoted && !(word ?? '').includes('=')) quotedBeforeEquals = true;
    word = (word ?? '') + text;
  };

  while (index < line.length) {
    const char = line[index]!;
    if (char === ' ' || char === '\t') {
      flush();
      index++;
    } else if (char === '\n') {
      flush();
      tokens.push({ kind: 'op', value: ';' });
      index++;
    } else if (char === '#' && word === undefined) {
      while (index < line.length && line[index] !== '\n') index++;
    } else if (char === "'") {
      const end = line.indexOf("'", index + 1);
      if (end < 0) throw new ShellSyntaxError('Syntax error: Unterminated quoted string');
      append(line.slice(index + 1, end), true);
      index = end + 1;
    } else if (char === '"') {
      index = readDoubleQuoted(line, index + 1, env, (text) => append(text, true));
    } else if (char === '\\') {
      if (line[index + 1] !== '\n') append(line[index + 1] ?? '', true);
      index += 2;
    } else if (char === '$') {
      index = readVariable(line, index, env, (text) => append(text, false));
    } else if (char === '`') {
      throw new ShellSyntaxError('Syntax error: command substitution is not supported by the simulator');
    } else if ('&|;<>'.includes(char)) {
      const op = OPERATORS.find((candidate) => line.startsWith(candidate, index))!;
      const fdPrefix = word !== undefined && /^\d$/.test(word) && (op === '>' || op === '>>' || op === '>&');
      const fd = fdPrefix ? Number(word) : undefined;
      if (fdPrefix) word = undefined;
      flush();
      index += op.length;
      tokens.push(operatorToken(op, fd));
    } else {
      append(char, false);
      index++;
    }
  }
  flush();
  return tokens;
}

function operatorToken(op: string, fd: number | undefined): Token {
  if (op === '&') throw new ShellSyntaxError('Syntax error: background jobs ("&") are not supported by the simulator');
  if (op === '>' || op === '>>' || op === '>&') return { kind: 'redirect', redirect: { fd: fd ?? 1, op } };
  if (op === '<') return { kind: 'redirect', redirect: { fd: 0, op } };
  return { kind: 'op', value: op };
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
  const tokens = tokenize(line, env);
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
