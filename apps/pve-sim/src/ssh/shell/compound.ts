/** `if`, `for` and `while`/`until` over the interpreter's lists. */
import { expandWord } from './expand';
import type { Shell, ShellStreams, Status } from './interpreter';
import type { ForCommand, IfCommand, WhileCommand } from './parse';

/**
 * A guest has no Ctrl-C: a loop that never ends would hang the simulated session, so loops stop
 * after this many rounds with a failure instead.
 */
export const MAX_LOOP_ITERATIONS = 1000;

export async function runCompound(
  shell: Shell,
  command: IfCommand | ForCommand | WhileCommand,
  streams: ShellStreams,
): Promise<Status> {
  if (command.kind === 'if') return runIf(shell, command, streams);
  if (command.kind === 'for') return runFor(shell, command, streams);
  return runWhile(shell, command, streams);
}

async function runIf(shell: Shell, command: IfCommand, streams: ShellStreams): Promise<Status> {
  for (const branch of command.branches) {
    const tested = await shell.runCondition(branch.condition, streams);
    if (tested.exit) return tested;
    if (tested.code === 0) return shell.runList(branch.body, streams);
  }
  // With no branch taken and no `else`, `if` succeeds.
  return command.otherwise ? shell.runList(command.otherwise, streams) : { code: 0, exit: false };
}

async function runFor(shell: Shell, command: ForCommand, streams: ShellStreams): Promise<Status> {
  const context = shell.expansion(streams.stderr);
  const values: string[] = [];
  for (const item of command.items) values.push(...(await expandWord(item, context)));
  let result: Status = { code: 0, exit: false };
  for (const value of values) {
    shell.env[command.variable] = value;
    result = await shell.runList(command.body, streams);
    if (result.exit) return result;
  }
  return result;
}

async function runWhile(shell: Shell, command: WhileCommand, streams: ShellStreams): Promise<Status> {
  let result: Status = { code: 0, exit: false };
  for (let round = 0; round < MAX_LOOP_ITERATIONS; round++) {
    const tested = await shell.runCondition(command.condition, streams);
    if (tested.exit) return tested;
    if ((tested.code === 0) === command.until) return result;
    result = await shell.runList(command.body, streams);
    if (result.exit) return result;
  }
  streams.stderr(`sh: 1: loop stopped by the simulator after ${MAX_LOOP_ITERATIONS} rounds\n`);
  return { code: 1, exit: false };
}
