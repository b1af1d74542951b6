import { type Document, LineCounter, parseDocument } from 'yaml';
import type { SpecIssue } from './issues';

/** Longest spec text accepted; the API's body limit is the first line of defence, this the last. */
export const MAX_SPEC_TEXT_LENGTH = 4 * 1024 * 1024;

/** Aliases YAML may expand, so a "billion laughs" document cannot blow up into gigabytes. */
const MAX_YAML_ALIASES = 100;

export type SpecContentType = 'yaml' | 'json';

export type DecodeResult = { ok: true; value: unknown } | { ok: false; issues: SpecIssue[] };

function failure(message: string): DecodeResult {
  return { ok: false, issues: [{ path: [], message }] };
}

function decodeJson(text: string): DecodeResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    // V8's message quotes the input; say where it broke without echoing it.
    const position = /position (\d+)/.exec(String(error))?.[1];
    return failure(`is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
}

/** Garbage text can produce hundreds of YAML errors; the first few say enough. */
const MAX_YAML_ERRORS = 10;

function readYamlDocument(text: string, lines: LineCounter): Document.Parsed {
  // YAML 1.2 core schema: plain data only, no custom types; unknown tags read as plain values.
  // Merge keys (<<) are allowed so VM entries can share a definition through an anchor.
  return parseDocument(text, {
    uniqueKeys: true,
    merge: true,
    prettyErrors: false,
    lineCounter: lines,
    logLevel: 'silent',
  });
}

function decodeYaml(text: string): DecodeResult {
  const lines = new LineCounter();
  try {
    const document = readYamlDocument(text, lines);
    if (document.errors.length === 0) return { ok: true, value: document.toJS({ maxAliasCount: MAX_YAML_ALIASES }) };
    return {
      ok: false,
      issues: document.errors.slice(0, MAX_YAML_ERRORS).map((error) => {
        const { line, col } = lines.linePos(error.pos[0]);
        return { path: [], message: `is not valid YAML: ${error.message} (line ${line}, column ${col})` };
      }),
    };
  } catch (error) {
    // The yaml library throws for alias bombs and unresolved aliases, and the engine for deep nesting.
    return failure(`is not valid YAML: ${error instanceof Error ? error.message : 'cannot be read'}`);
  }
}

/** Turns spec text into plain data; a string that is neither YAML nor JSON becomes an issue at path []. */
export function decodeSpecText(text: string, contentType: SpecContentType): DecodeResult {
  if (text.length > MAX_SPEC_TEXT_LENGTH) return failure(`is longer than ${MAX_SPEC_TEXT_LENGTH} characters`);
  return contentType === 'json' ? decodeJson(text) : decodeYaml(text);
}
