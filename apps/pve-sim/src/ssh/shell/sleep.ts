/**
 * `sleep NUMBER[SUFFIX]...` as GNU coreutils has it: each operand a non-negative decimal number
 * (fractions, exponents and `inf`/`infinity` included) with an optional `s`, `m`, `h` or `d`; the
 * pause is the sum of them. A bad operand is named (every one of them) and the status is 1. The pause
 * passes in the machine's time (a simulator's is scaled), and ends early, as a killed process does,
 * when the command's signal fires (a channel signal, or the session's channel closing).
 */
import { type Command, type CommandOutcome, KILLED_STATUS } from './interpreter';

/**
 * Lets `ms` milliseconds of the machine's own time pass (Infinity: until `signal`); resolves early,
 * leaving no timer behind, when `signal` fires.
 */
export type PassTime = (ms: number, signal: AbortSignal) => Promise<void>;

/** Multipliers of the suffixes GNU sleep accepts; no suffix means seconds. */
const SUFFIX_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** What strtod reads as a number (hexadecimal floats aside), then at most one suffix character. */
const OPERAND = /^\s*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?))(.?)$/i;

const TRY_HELP = "Try 'sleep --help' for more information.\n";

/**
 * What coreutils 9.1 (Debian 12, under Proxmox VE 8) prints for --help and --version, on a host
 * whose locale is en_US: the line asking for translation bug reports is printed in other locales only.
 */
const USAGE = `Usage: sleep NUMBER[SUFFIX]...
  or:  sleep OPTION
Pause for NUMBER seconds.  SUFFIX may be 's' for seconds (the default),
'm' for minutes, 'h' for hours or 'd' for days.  NUMBER need not be an
integer.  Given two or more arguments, pause for the amount of time
specified by the sum of their values.

      --help        display this help and exit
      --version     output version information and exit

GNU coreutils online help: <https://www.gnu.org/software/coreutils/>
Full documentation <https://www.gnu.org/software/coreutils/sleep>
or available locally via: info '(coreutils) sleep invocation'
`;

const VERSION = `sleep (GNU coreutils) 9.1
Copyright (C) 2022 Free Software Foundation, Inc.
License GPLv3+: GNU GPL version 3 or later <https://gnu.org/licenses/gpl.html>.
This is free software: you are free to change and redistribute it.
There is NO WARRANTY, to the extent permitted by law.

Written by Jim Meyering and Paul Eggert.
`;

/** Seconds one operand stands for, or undefined when sleep rejects it. */
export function intervalSeconds(operand: string): number | undefined {
  const match = OPERAND.exec(operand);
  if (!match) return undefined;
  const [, number, suffix] = match as unknown as [string, string, string];
  const multiplier = SUFFIX_SECONDS[suffix];
  if (multiplier === undefined) return undefined;
  const value = /inf/i.test(number) ? (number.startsWith('-') ? -Infinity : Infinity) : Number(number);
  // `!(0 <= s)` in GNU's check: negative numbers are refused, -0 is not.
  if (!(value >= 0)) return undefined;
  return value * multiplier;
}

/** The long options every GNU tool takes; getopt_long also takes any unambiguous prefix (`--h`). */
const STANDARD_OPTIONS = ['help', 'version'] as const;

/**
 * What sleep does with the first option on its line (coreutils' parse_gnu_standard_options_only:
 * one getopt_long call that decides alone): help or version, or getopt's complaint and status 1.
 */
function standardOption(word: string): CommandOutcome {
  if (!word.startsWith('--')) return { stderr: `sleep: invalid option -- '${word[1]}'\n${TRY_HELP}`, code: 1 };
  const equals = word.indexOf('=');
  const name = word.slice(2, equals === -1 ? undefined : equals);
  const matches = name ? STANDARD_OPTIONS.filter((option) => option.startsWith(name)) : [];
  if (matches.length !== 1) return { stderr: `sleep: unrecognized option '${word}'\n${TRY_HELP}`, code: 1 };
  const option = matches[0]!;
  if (equals !== -1) {
    return { stderr: `sleep: option '--${option}' doesn't allow an argument\n${TRY_HELP}`, code: 1 };
  }
  return { stdout: option === 'help' ? USAGE : VERSION };
}

/**
 * Reads sleep's command line as GNU getopt does: it permutes, so the first option anywhere before
 * `--` (`sleep 5 --help` too) is taken, and only that one — it prints help or version, or refuses the
 * line — before any operand is read. Answers the total seconds or what sleep prints and its status.
 */
export function parseSleep(argv: string[]): { seconds: number } | CommandOutcome {
  const args = argv.slice(1);
  const end = args.indexOf('--');
  const before = end === -1 ? args : args.slice(0, end);
  const option = before.find((word) => word.startsWith('-') && word.length > 1);
  if (option !== undefined) return standardOption(option);
  const operands = end === -1 ? args : [...before, ...args.slice(end + 1)];
  // GNU counts the words, not the operands: `sleep --` pauses for nothing and succeeds.
  if (args.length === 0) return { stderr: `sleep: missing operand\n${TRY_HELP}`, code: 1 };
  let seconds = 0;
  let stderr = '';
  for (const operand of operands) {
    const value = intervalSeconds(operand);
    if (value === undefined) stderr += `sleep: invalid time interval '${operand}'\n`;
    else seconds += value;
  }
  if (stderr) return { stderr: stderr + TRY_HELP, code: 1 };
  return { seconds };
}

/** The `sleep` command of a machine whose time passes as `pass` says. */
export function sleepCommand(pass: PassTime): Command {
  return async ({ argv, signal }) => {
    const parsed = parseSleep(argv);
    if (!('seconds' in parsed)) return parsed;
    if (signal.aborted) return { code: KILLED_STATUS };
    await pass(parsed.seconds * 1000, signal);
    return signal.aborted ? { code: KILLED_STATUS } : {};
  };
}

/** Node's setTimeout takes at most this many milliseconds (longer ones fire at once). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Time as `schedule` (a timer that can be cancelled) passes it, `scale` real milliseconds to a
 * nominal one: a wait longer than one timer can hold is taken in several.
 */
export function timerTime(schedule: (ms: number, fn: () => void) => () => void, scale = 1): PassTime {
  return (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      let left = ms * scale;
      let cancel = () => {};
      const finish = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        cancel();
        resolve();
      };
      const next = () => {
        if (left <= 0) return finish();
        // Infinity (`sleep infinity`): nothing is scheduled; only the signal ends it.
        if (left === Number.POSITIVE_INFINITY) return;
        const step = Math.min(left, LONGEST_TIMER_MS);
        left -= step;
        cancel = schedule(step, next);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      next();
    });
}

/**
 * A simulator's time: each nominal millisecond is `timeScale` real ones, as for every simulated
 * duration. The timers are unreferenced and each is cleared when its session ends, so a sleeping
 * guest never keeps a stopped simulator's process alive; they are not the clock's own, whose
 * `cancelAll` at a reset would leave a sleep waiting for ever.
 */
export function simulatedTime(timeScale: number): PassTime {
  return timerTime(nodeTimer(false), timeScale);
}

/** Real time, unscaled: for a shell that belongs to no simulator (its timers hold the process). */
export const realTime: PassTime = timerTime(nodeTimer(true));

/** Node's timers, holding the process up (`ref`) or not; each schedule answers its cancel. */
function nodeTimer(ref: boolean): (ms: number, fn: () => void) => () => void {
  return (ms, fn) => {
    const timer = setTimeout(fn, ms);
    if (!ref) timer.unref();
    return () => clearTimeout(timer);
  };
}
