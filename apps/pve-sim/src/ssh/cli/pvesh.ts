/**
 * `pvesh get|set|create|delete|ls <path>`: calls any API path as root@pam. Task-returning calls run
 * in the foreground (their log is printed, then the UPID), as pvesh does in its CLI environment.
 */
import type { CommandOutcome } from '../shell/interpreter';
import { formatResult, formatterBooleans, formatterOptions, outputFormatOf } from './format';
import { type CliCommand, type CliContext, callApi, followTask } from './program';

const verbs = { get: 'GET', set: 'PUT', create: 'POST', delete: 'DELETE' } as const;

const spec = {
  positional: ['api_path'],
  options: [...formatterOptions, 'noproxy'],
  booleans: [...formatterBooleans, 'noproxy'],
  anyOptions: true,
};

function apiPath(path: string): string {
  const trimmed = path.replace(/^\/?api2\/json/, '').replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function paramsOf(options: Record<string, string>): Record<string, string> {
  const params = { ...options };
  for (const name of [...formatterOptions, 'noproxy']) delete params[name];
  return params;
}

async function call(
  context: CliContext,
  verb: keyof typeof verbs,
  path: string,
  options: Record<string, string>,
): Promise<CommandOutcome> {
  const format = outputFormatOf(options);
  const data = await callApi(context, verbs[verb], apiPath(path), paramsOf(options));
  if (typeof data === 'string' && data.startsWith('UPID:')) {
    const task = await followTask(context, data);
    return { ...task, stdout: `${task.stdout ?? ''}${task.code ? '' : `${data}\n`}` };
  }
  if (verb !== 'get' && (data === null || data === undefined)) return {};
  const table = { noborder: options.noborder === '1', noheader: options.noheader === '1' };
  return { stdout: formatResult(data, format, table) };
}

/** `pvesh ls <path>`: the path's children, one `Dr---`-style line each. */
async function list(context: CliContext, path: string): Promise<CommandOutcome> {
  const data = await callApi(context, 'GET', apiPath(path));
  if (!Array.isArray(data)) return {};
  const names = data.map((item) => {
    if (item === null || typeof item !== 'object') return String(item);
    const entry = item as Record<string, unknown>;
    const id = Object.values(entry).find((value) => typeof value === 'string' || typeof value === 'number');
    return String(entry.subdir ?? entry.name ?? id ?? '');
  });
  return { stdout: names.map((name) => `Dr--- ${name}\n`).join('') };
}

export const pveshCommands: CliCommand[] = [
  ...(Object.keys(verbs) as Array<keyof typeof verbs>).map(
    (verb): CliCommand => ({
      words: [verb],
      spec,
      run: (context, { positional, options }) => call(context, verb, positional.api_path!, options),
    }),
  ),
  {
    words: ['ls'],
    spec: { positional: ['api_path'], options: [...formatterOptions], booleans: [...formatterBooleans] },
    run: (context, { positional }) => list(context, positional.api_path!),
  },
];
