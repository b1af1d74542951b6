/**
 * Word expansion when a command runs (not when it is read), so `x=1; echo $x` sees the new value:
 * quote removal, `$NAME`, `${NAME}`, `${NAME:-default}`, `$?`, `$(…)` and backticks, and field
 * splitting of unquoted expansion results. No globbing: a pattern stays the word it is.
 */
import { closingBacktick, closingParen } from './word-scan';

export interface ExpansionContext {
  /** A variable's value, including the special parameters (`?`, `$`, `#`, `!`). */
  lookup(name: string): string | undefined;
  /** Runs a command substitution's script and resolves with what it printed. */
  substitute(script: string): Promise<string>;
}

/** Collects fields: quoted text joins the current field, unquoted expansion results split on blanks. */
class Fields {
  readonly fields: string[] = [];
  private current = '';
  private started = false;

  join(text: string) {
    this.current += text;
    this.started = true;
  }

  split(text: string) {
    for (const [index, part] of text.split(/[ \t\n]+/).entries()) {
      if (index > 0) this.end();
      if (part) this.join(part);
    }
  }

  end() {
    if (this.started) this.fields.push(this.current);
    this.current = '';
    this.started = false;
  }
}

/** A word as the command sees it: zero or more fields. */
export async function expandWord(raw: string, context: ExpansionContext): Promise<string[]> {
  const fields = new Fields();
  await walk(raw, context, fields, true);
  fields.end();
  return fields.fields;
}

/** A word without field splitting (assignment values, redirection targets). */
export async function expandText(raw: string, context: ExpansionContext): Promise<string> {
  const fields = new Fields();
  await walk(raw, context, fields, false);
  fields.end();
  return fields.fields.join('');
}

async function walk(raw: string, context: ExpansionContext, fields: Fields, splitting: boolean) {
  const expanded = (text: string) => (splitting ? fields.split(text) : fields.join(text));
  for (let index = 0; index < raw.length; ) {
    const char = raw[index]!;
    if (char === "'") {
      const end = raw.indexOf("'", index + 1);
      fields.join(raw.slice(index + 1, end));
      index = end + 1;
    } else if (char === '"') {
      const { text, end } = await expandDoubleQuoted(raw, index + 1, context);
      fields.join(text);
      index = end + 1;
    } else if (char === '\\') {
      fields.join(raw[index + 1] ?? '');
      index += 2;
    } else if (char === '$' || char === '`') {
      const { value, end } = await expandDollarOrBacktick(raw, index, context);
      if (value === undefined) fields.join(char);
      else expanded(value);
      index = end;
    } else {
      fields.join(char);
      index++;
    }
  }
}

async function expandDoubleQuoted(raw: string, start: number, context: ExpansionContext) {
  let text = '';
  let index = start;
  while (index < raw.length && raw[index] !== '"') {
    const char = raw[index]!;
    if (char === '\\' && '$`"\\\n'.includes(raw[index + 1] ?? '')) {
      if (raw[index + 1] !== '\n') text += raw[index + 1];
      index += 2;
    } else if (char === '$' || char === '`') {
      const { value, end } = await expandDollarOrBacktick(raw, index, context);
      text += value ?? char;
      index = end;
    } else {
      text += char;
      index++;
    }
  }
  return { text, end: index };
}

/** A here-document body: expansions and `\$`, `` \` ``, `\\` escapes, quotes left as they are. */
export async function expandHeredoc(body: string, context: ExpansionContext): Promise<string> {
  let text = '';
  for (let index = 0; index < body.length; ) {
    const char = body[index]!;
    if (char === '\\' && '$`\\\n'.includes(body[index + 1] ?? '')) {
      if (body[index + 1] !== '\n') text += body[index + 1];
      index += 2;
    } else if (char === '$' || char === '`') {
      const { value, end } = await expandDollarOrBacktick(body, index, context);
      text += value ?? char;
      index = end;
    } else {
      text += char;
      index++;
    }
  }
  return text;
}

/** The value of the `$…` or backtick expansion at `start` (undefined: a lone `$`) and where it ends. */
async function expandDollarOrBacktick(
  raw: string,
  start: number,
  context: ExpansionContext,
): Promise<{ value: string | undefined; end: number }> {
  if (raw[start] === '`') {
    const close = closingBacktick(raw, start + 1);
    const script = raw.slice(start + 1, close).replace(/\\([\\`$])/g, '$1');
    return { value: trimNewlines(await context.substitute(script)), end: close + 1 };
  }
  const rest = raw.slice(start + 1);
  if (rest.startsWith('(')) {
    const close = closingParen(raw, start + 2);
    return { value: trimNewlines(await context.substitute(raw.slice(start + 2, close))), end: close + 1 };
  }
  const braced = /^\{([A-Za-z_]\w*|[?$#!0-9])(:?-([^}]*))?\}/.exec(rest);
  if (braced) {
    const value = context.lookup(braced[1]!);
    const useDefault = braced[2] !== undefined && (value === undefined || (braced[2].startsWith(':') && value === ''));
    return {
      value: useDefault ? await expandText(braced[3]!, context) : (value ?? ''),
      end: start + 1 + braced[0].length,
    };
  }
  const bare = /^[A-Za-z_]\w*|^[?$#!0-9]/.exec(rest);
  if (!bare) return { value: undefined, end: start + 1 };
  return { value: context.lookup(bare[0]) ?? '', end: start + 1 + bare[0].length };
}

/** Command substitution drops the output's trailing newlines. */
function trimNewlines(text: string): string {
  return text.replace(/\n+$/, '');
}
