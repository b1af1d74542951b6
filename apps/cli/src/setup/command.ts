import type { Command } from 'commander';
import { writeConfigFile } from '../config-file';
import type { CliContext } from '../context';
import { UsageError, WorkFailedError } from '../errors';
import { SETUP_FIELDS, type SetupAnswers } from './answers';
import type { CheckOutcome } from './outcome';
import { configOf, initialAnswers, missingAnswers } from './resolve';
import { blocking, SETUP_SECTIONS } from './sections';
import { askFields, askRetry, confirmTrust } from './wizard';

type SetupFlags = { nonInteractive?: boolean } & Record<string, string | undefined>;

function printOutcomes(ctx: CliContext, outcomes: readonly CheckOutcome[]): void {
  for (const outcome of outcomes) {
    const mark = outcome.ok ? '✓' : outcome.warning ? '!' : '✗';
    ctx.print(`  ${mark} ${outcome.title}: ${outcome.detail}`);
    if (!outcome.ok && outcome.fix) ctx.print(`      fix: ${outcome.fix}`);
  }
}

/** Every section checked once, all problems reported together: for scripts and CI. */
async function runNonInteractive(ctx: CliContext, answers: Partial<SetupAnswers>): Promise<SetupAnswers> {
  const missing = missingAnswers(answers);
  if (missing.length > 0) throw new UsageError(`setup --non-interactive needs ${missing.join(', ')}`);
  const complete = answers as SetupAnswers;
  const problems: CheckOutcome[] = [];
  for (const section of SETUP_SECTIONS) {
    ctx.print(section.title);
    const { outcomes, learned } = await section.check(complete);
    printOutcomes(ctx, outcomes);
    Object.assign(complete, learned);
    problems.push(...blocking(outcomes));
  }
  if (problems.length > 0) {
    throw new WorkFailedError(
      `setup found ${problems.length} problem(s) (${problems.map((p) => p.title).join(', ')}); nothing was written`,
    );
  }
  return complete;
}

/** Section by section: ask, check at once, and ask again for that section until it passes or the operator gives up. */
async function runWizard(ctx: CliContext, answers: Partial<SetupAnswers>): Promise<SetupAnswers> {
  for (const section of SETUP_SECTIONS) {
    ctx.print(`\n${section.title}`);
    for (;;) {
      await askFields(section.fields, answers);
      const { outcomes, learned } = await section.check(answers as SetupAnswers, confirmTrust);
      printOutcomes(ctx, outcomes);
      Object.assign(answers, learned);
      if (blocking(outcomes).length === 0) break;
      if (!(await askRetry(section.title)))
        throw new WorkFailedError(`setup stopped at ${section.title}; nothing was written`);
    }
  }
  return answers as SetupAnswers;
}

/** The prompts read the process's own terminal; Ctrl-C in one ends setup without writing anything. */
async function runWizardOnTerminal(ctx: CliContext, answers: Partial<SetupAnswers>): Promise<SetupAnswers> {
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask on: run `glassdome setup --non-interactive`');
  try {
    return await runWizard(ctx, answers);
  } catch (error) {
    if (error instanceof Error && error.name === 'ExitPromptError') {
      throw new WorkFailedError('setup interrupted; nothing was written');
    }
    throw error;
  }
}

async function runSetup(ctx: CliContext, { nonInteractive, ...flags }: SetupFlags): Promise<void> {
  const globals = { apiUrl: ctx.globalOptions.apiUrl, apiKey: ctx.globalOptions.apiKey };
  const answers = initialAnswers({ ...flags, ...globals }, ctx.env, ctx.config());
  const done = nonInteractive ? await runNonInteractive(ctx, answers) : await runWizardOnTerminal(ctx, answers);
  writeConfigFile(ctx.configPath, configOf(done));
  ctx.print(`\nwrote ${ctx.configPath} (mode 0600: it holds the token secret${done.apiKey ? ' and the API key' : ''})`);
}

export function registerSetupCommand(program: Command, ctx: CliContext): void {
  const setup = program
    .command('setup')
    .description('check the Proxmox, SSH, Redis, Postgres and API connections and write the config file')
    .option('--non-interactive', 'ask nothing: take every answer from flags, the environment or the config file');
  for (const field of SETUP_FIELDS) {
    // The API URL and key are the program's own --api-url/--api-key.
    if (field.key === 'apiUrl' || field.key === 'apiKey') continue;
    const placeholder = field.key === 'tokenSecret' ? 'secret' : 'value';
    const env = field.secret
      ? `env ${field.env}; safer than the flag, which other users can see in ps`
      : `env ${field.env}`;
    setup.option(
      `--${field.flag} <${placeholder}>`,
      `${field.describe} (${env}${field.fallback ? `, default ${field.fallback}` : ''})`,
    );
  }
  setup
    .addHelpText(
      'after',
      '\nThe API URL and key are taken from --api-url/--api-key, GLASSDOME_URL/GLASSDOME_API_KEY or the prompts.',
    )
    .action((flags: SetupFlags) => runSetup(ctx, flags));
}
