/**
 * Finding where shell text ends without interpreting it: the end of a word, of a quoted string, of
 * a `$(…)` or a backtick substitution. The lexer keeps words as written; expand.ts reads them later.
 */
import { ShellSyntaxError } from './syntax-error';

const unterminated = () => new ShellSyntaxError('Syntax error: Unterminated quoted string');

/** Index just past the word starting at `start` (stops at unquoted blanks, newlines, operators, `\<newline>`). */
export function scanWord(line: string, start: number): number {
  let index = start;
  while (index < line.length) {
    const char = line[index]!;
    if (' \t\n&|;<>'.includes(char)) return index;
    if (char === '\\') {
      if (line[index + 1] === '\n') return index;
      index += 2;
    } else {
      index = skipQuoted(line, index);
    }
  }
  return Math.min(index, line.length);
}

/** Past one character, or past a whole quoted string / substitution / `${…}` beginning at `index`. */
export function skipQuoted(line: string, index: number): number {
  const char = line[index];
  if (char === "'") {
    const end = line.indexOf("'", index + 1);
    if (end < 0) throw unterminated();
    return end + 1;
  }
  if (char === '"') return skipDoubleQuoted(line, index + 1);
  if (char === '`') return closingBacktick(line, index + 1) + 1;
  if (char === '$' && line[index + 1] === '(') return closingParen(line, index + 2) + 1;
  if (char === '$' && line[index + 1] === '{') {
    const end = line.indexOf('}', index + 2);
    if (end < 0) throw new ShellSyntaxError("Syntax error: Missing '}'");
    return end + 1;
  }
  return index + 1;
}

function skipDoubleQuoted(line: string, start: number): number {
  let index = start;
  while (index < line.length && line[index] !== '"') {
    if (line[index] === '\\') index += 2;
    else if (line[index] === '`' || line[index] === '$') index = skipQuoted(line, index);
    else index++;
  }
  if (index >= line.length) throw unterminated();
  return index + 1;
}

/** Index of the backtick closing a substitution whose text starts at `start`. */
export function closingBacktick(line: string, start: number): number {
  let index = start;
  while (index < line.length && line[index] !== '`') index += line[index] === '\\' ? 2 : 1;
  if (index >= line.length) throw new ShellSyntaxError('Syntax error: EOF in backquote substitution');
  return index;
}

/** Index of the `)` closing a `$(` whose text starts at `start`, skipping quotes and nested parentheses. */
export function closingParen(line: string, start: number): number {
  let depth = 0;
  let index = start;
  while (index < line.length) {
    const char = line[index]!;
    if (char === ')' && depth === 0) return index;
    if (char === '(') depth++;
    if (char === ')') depth--;
    index = char === '\\' ? index + 2 : char === '(' || char === ')' ? index + 1 : skipQuoted(line, index);
  }
  throw new ShellSyntaxError('Syntax error: end of file unexpected (expecting ")")');
}
