import { resolve } from 'node:path';
import { readEnvFile, writeEnvFile } from '@glassdome/config';
import type { Command } from 'commander';
import { writeConfigFile } from '../config-file';
import type { CliContext } from '../context';
import { UsageError, WorkFailedError } from '../errors';
import { SETUP_FIELDS, type SetupAnswers } from './answers';
import type { CheckOutcome } from './outcome';
import { bootstrapLogin, configOf, envVarsOf, initialAnswers, missingAnswers } from './resolve';
import { blocking, type SetupSection, setupSections } from './sections';
import { askBootstrap, askFields, askRetry, confirmTrust } from './wizard';

type SetupFlags = {
  nonInteractive?: boolean;
  bootstrapSsh?: string;
  replaceToken?: boolean;
  envFile?: string;
} & Record<string, string | undefined>;

/** The repository's root: `pnpm start` reads `.glassdome/glassdome.env` there. */
const repoRoot = new URL('../../../../', import.meta.url).pathname;

/** GLASSDOME_ENV_FILE, else `glassdome.env` in GLASSDOME_STATE_DIR, else in the repository's `.glassdome/` (as `pnpm start` reads it). */
export function defaultEnvFile(env: NodeJS.ProcessEnv): string {
  if (env.GLASSDOME_ENV_FILE) return env.GLASSDOME_ENV_FILE;
  return resolve(env.GLASSDOME_STATE_DIR || resolve(repoRoot, '.glassdome'), 'glassdome.env');
}

function printOutcomes(ctx: CliContext, outcomes: readonly CheckOutcome[]): void {
  for (const outcome of outcomes) {
    const mark = outcome.ok ? '✓' : outcome.warning ? '!' : '✗';
    ctx.print(`  ${mark} ${outcome.title}: ${outcome.detail}`);
    if (!outcome.ok && outcome.fix) ctx.print(`      fix: ${outcome.fix}`);
  }
}

/** Every section checked once, all problems reported together: for scripts and CI. */
async function runNonInteractive(
  ctx: CliContext,
  sections: SetupSection[],
  answers: Partial<SetupAnswers>,
  bootstrap: boolean,
): Promise<SetupAnswers> {
  const missing = missingAnswers(answers, { bootstrap });
  if (missing.length > 0) throw new UsageError(`setup --non-interactive needs ${missing.join(', ')}`);
  const complete = answers as SetupAnswers;
  const problems: CheckOutcome[] = [];
  for (const section of sections) {
    ctx.print(section.title);
    const { outcomes, learned } = await section.check(complete);
    printOutcomes(ctx, outcomes);
    Object.assign(complete, learned);
    problems.push(...blocking(outcomes));
    // Make no token (whose secret would be lost) once something is wrong, and check none that was not made.
    if (bootstrap && problems.length > 0) break;
  }
  if (problems.length > 0) {
    throw new WorkFailedError(
      `setup found ${problems.length} problem(s) (${problems.map((p) => p.title).join(', ')}); nothing was written`,
    );
  }
  return complete;
}

/** Section by section: ask, check at once, and ask again for that section until it passes or the operator gives up. */
async function runWizard(
  ctx: CliContext,
  sections: SetupSection[],
  answers: Partial<SetupAnswers>,
): Promise<SetupAnswers> {
  for (const section of sections) {
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
async function onTerminal<T>(work: () => Promise<T>): Promise<T> {
  if (!process.stdin.isTTY) throw new UsageError('no terminal to ask on: run `glassdome setup --non-interactive`');
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && error.name === 'ExitPromptError') {
      throw new WorkFailedError('setup interrupted; nothing was written');
    }
    throw error;
  }
}

async function runSetup(ctx: CliContext, flags: SetupFlags): Promise<void> {
  const { nonInteractive, bootstrapSsh, replaceToken, envFile: envFileFlag, ...fieldFlags } = flags;
  const envFile = resolve(envFileFlag ?? defaultEnvFile(ctx.env));
  const existing = readEnvFile(envFile);
  const globals = { apiUrl: ctx.globalOptions.apiUrl, apiKey: ctx.globalOptions.apiKey };
  const answers = initialAnswers({ ...fieldFlags, ...globals }, ctx.env, ctx.config(), existing);
  let bootstrap = bootstrapSsh !== undefined;
  if (bootstrapSsh) Object.assign(answers, bootstrapLogin(bootstrapSsh));
  let done: SetupAnswers;
  if (nonInteractive) {
    done = await runNonInteractive(ctx, setupSections({ bootstrap, replaceToken }), answers, bootstrap);
  } else {
    done = await onTerminal(async () => {
      if (!bootstrap && !answers.tokenSecret) {
        const login = await askBootstrap(answers);
        if (login) {
          Object.assign(answers, bootstrapLogin(login));
          bootstrap = true;
        }
      }
      return runWizard(ctx, setupSections({ bootstrap, replaceToken }), answers);
    });
  }
  // Variables the file held that setup does not manage (LOG_LEVEL, WORKER_CONCURRENCY…) are kept.
  writeEnvFile(envFile, { ...existing, ...envVarsOf(done) }, [
    `Written by \`glassdome setup\` on ${new Date().toISOString()}: what every Glassdome process reads.`,
    '`pnpm start` passes it on (its own environment wins over it). Mode 0600: it holds the token secret.',
  ]);
  ctx.print(`\nwrote ${envFile} (mode 0600: it holds the Proxmox token secret)`);
  writeConfigFile(ctx.configPath, configOf(done));
  ctx.print(`wrote ${ctx.configPath} (the API URL${done.apiKey ? ' and key' : ''} for the glassdome command)`);
  ctx.print(`next: pnpm start (it reads ${envFile}${ctx.env.GLASSDOME_ENV_FILE ? ' through GLASSDOME_ENV_FILE' : ''})`);
}

export function registerSetupCommand(program: Command, ctx: CliContext): void {
  const setup = program
    .command('setup')
    .description('check the Proxmox, SSH, Redis, Postgres and API connections and write the env file the services read')
    .option('--non-interactive', 'ask nothing: take every answer from flags, the environment or the env file')
    .option(
      '--bootstrap-ssh <root@host[:port]>',
      "make Glassdome's user, privilege-separated token, roles and ACLs on the node over SSH as root (with --ssh-key-file)",
    )
    .option('--replace-token', 'with --bootstrap-ssh: remove an existing token of that name and make a new secret')
    .option('--env-file <file>', 'env file to write (env GLASSDOME_ENV_FILE, else .glassdome/glassdome.env)');
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
      '\nThe API URL and key are taken from --api-url/--api-key, GLASSDOME_URL/GLASSDOME_API_KEY or the prompts,\n' +
        'and written to the config file; everything else goes to the env file (mode 0600) that pnpm start reads.',
    )
    .action((flags: SetupFlags) => runSetup(ctx, flags));
}
