/**
 * A conversation as the e2e test holds it with the MCP server, written to docs/mcp-transcript.md:
 * what a user asked, which tool the assistant called with which arguments, and what came back
 * (trimmed to what matters, with ids, tokens, times and the test's process id replaced by
 * placeholders so the file only changes when the behaviour does).
 */
import { writeFileSync } from 'node:fs';

type Entry =
  | { kind: 'user'; text: string }
  | { kind: 'assistant'; text: string }
  | { kind: 'call'; transport: string; tool: string; arguments: unknown; result: unknown; isError: boolean };

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const TOKEN = /\d{10,16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}/g;
const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;

export class Transcript {
  private readonly entries: Entry[] = [];
  private readonly ids = new Map<string, string>();

  user(text: string): void {
    this.entries.push({ kind: 'user', text });
  }

  assistant(text: string): void {
    this.entries.push({ kind: 'assistant', text });
  }

  /** Names an id (a lab's, a VM's) so it reads as `<lab mcp-web>` instead of a UUID. */
  name(id: string, label: string): void {
    this.ids.set(id, `<${label}>`);
  }

  call(transport: string, tool: string, args: unknown, result: unknown, isError = false): void {
    this.entries.push({ kind: 'call', transport, tool, arguments: args, result, isError });
  }

  private scrub(text: string): string {
    return text
      .replace(UUID, (id) => this.ids.get(id) ?? '<id>')
      .replace(TOKEN, '<confirmation token>')
      .replace(TIME, '<time>')
      .replace(/"(durationMs|estimatedMs)": \d+/g, '"$1": <ms>')
      .replace(/"vmid": \d+/g, '"vmid": <vmid>')
      .replace(/\bVM \d{3,}\b/g, 'VM <vmid>')
      .replace(/127\.\d+\.\d+\.\d+/g, '<management ip>')
      .replace(/\bcanary-\d+-/g, 'canary-<pid>-');
  }

  render(): string {
    const lines = [
      '# A conversation with Glassdome over MCP',
      '',
      '<!-- Written by packages/mcp/test/mcp-stack.e2e.test.ts on every run; do not edit by hand. -->',
      '',
      'A desktop assistant connected to Glassdome’s MCP server as docs/mcp.md sets it up: it started',
      '`glassdome mcp` (stdio) with an operator key, and a second one with a viewer key, against a',
      'stack on the Proxmox simulator. The test holds the same conversation over Streamable HTTP',
      '(`/mcp` on the API) and asserts the same answers there. Each tool call shows its arguments and',
      'the part of the answer that matters; ids, tokens, VMIDs and times are placeholders.',
      '',
    ];
    for (const entry of this.entries) {
      if (entry.kind === 'user') lines.push(`**User:** ${entry.text}`, '');
      else if (entry.kind === 'assistant') lines.push(`**Assistant:** ${this.scrub(entry.text)}`, '');
      else {
        lines.push(
          `<details open><summary>${entry.tool} (${entry.transport})${entry.isError ? ' → error' : ''}</summary>`,
          '',
          '```json',
          this.scrub(JSON.stringify({ arguments: entry.arguments }, null, 2)),
          '```',
          '',
          '```json',
          this.scrub(JSON.stringify({ [entry.isError ? 'error' : 'result']: entry.result }, null, 2)),
          '```',
          '',
          '</details>',
          '',
        );
      }
    }
    return `${lines.join('\n').trimEnd()}\n`;
  }

  write(file: string): void {
    writeFileSync(file, this.render());
  }
}
