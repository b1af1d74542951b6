/**
 * Nesting limits checked on the raw body text in one linear pass, before any parser sees it. A
 * parser given a megabyte of `[` spends seconds (YAML) of the API's only thread on it; this scan
 * spends about a millisecond and refuses it. The count is deliberately simple: brackets and braces
 * outside quoted strings for JSON; for YAML the same plus block nesting (indentation levels and
 * compact `- ` entries), so it never under-counts a document's depth by much and never needs to
 * understand it.
 */

/** Deepest nesting a body may have: a lab spec needs about 6, so this leaves room and no more. */
export const MAX_BODY_DEPTH = 64;

/** How deep the JSON text nests, counting `[` and `{` outside strings (stops counting once over `limit`). */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return deepest;
}

/** Leading `- ` entries of a line (`- - - x` nests three sequences). */
function compactEntries(line: string, from: number): { count: number; end: number } {
  let count = 0;
  let i = from;
  while (line[i] === '-' && (line[i + 1] === ' ' || line[i + 1] === undefined)) {
    count++;
    i += 2;
    while (line[i] === ' ') i++;
  }
  return { count, end: i };
}

/**
 * An upper estimate of how deep a YAML text nests: per line, the block levels open above it
 * (indentation), its compact `- ` entries, and flow `[ {` depth outside quotes.
 */
export function yamlDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  const indents: number[] = [];
  let flow = 0;
  let deepest = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    let indent = 0;
    while (line[indent] === ' ') indent++;
    if (indent === line.length || line[indent] === '#') continue;
    if (flow === 0) {
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
    }
    const entries = compactEntries(line, indent);
    let depth = indents.length + entries.count + flow;
    let quote: string | undefined;
    for (let i = entries.end; i < line.length; i++) {
      const c = line[i]!;
      if (quote) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = undefined;
        continue;
      }
      if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (i === 0 || line[i - 1] === ' ')) break;
      else if (c === '[' || c === '{') {
        flow++;
        depth++;
      } else if ((c === ']' || c === '}') && flow > 0) flow--;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    }
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
  }
  return deepest;
}
