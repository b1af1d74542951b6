/** `pveum` (pve-access-control's CLI): users, tokens, roles and ACLs, over the same API handlers. */
import type { CommandOutcome } from '../shell/interpreter';
import { formatResult, formatterBooleans, formatterOptions, outputFormatOf } from './format';
import type { OptionSpec } from './options';
import { type CliCommand, type CliContext, callApi } from './program';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * A sub-command that is one API call with the positional parameters and options as its parameters;
 * `print` lists the answer through the formatter options; `fixed` adds constant parameters.
 */
function apiCommand(
  words: string[],
  aliases: string[][],
  spec: OptionSpec,
  method: Method,
  path: (positional: Record<string, string>) => string,
  print = false,
  fixed: Record<string, string> = {},
): CliCommand {
  const options = print ? [...spec.options, ...formatterOptions] : spec.options;
  const booleans = print ? [...(spec.booleans ?? []), ...formatterBooleans] : spec.booleans;
  return {
    words,
    aliases,
    spec: { ...spec, options, booleans },
    async run(context, { positional, options: given }) {
      const params = { ...withoutFormatterOptions(given), ...positional, ...fixed };
      const data = await callApi(context, method, path(positional), params);
      return print ? printed(data, given) : {};
    },
  };
}

function withoutFormatterOptions(options: Record<string, string>): Record<string, string> {
  const rest = { ...options };
  for (const name of formatterOptions) delete rest[name];
  return rest;
}

function printed(data: unknown, options: Record<string, string>): CommandOutcome {
  const format = outputFormatOf(options);
  return {
    stdout: formatResult(data, format, { noborder: options.noborder === '1', noheader: options.noheader === '1' }),
  };
}

const userOptions = ['comment', 'email', 'enable', 'expire', 'firstname', 'lastname', 'groups', 'keys'];
const aclSpec: OptionSpec = {
  positional: ['path'],
  options: ['roles', 'users', 'groups', 'tokens', 'propagate'],
  booleans: ['propagate'],
  lists: ['roles', 'users', 'groups', 'tokens'],
};

/** `pveum user permissions` / `user token permissions`: effective privileges per path. */
async function permissions(
  context: CliContext,
  userid: string,
  options: Record<string, string>,
): Promise<CommandOutcome> {
  const params: Record<string, string> = { userid };
  if (options.path) params.path = options.path;
  const data = (await callApi(context, 'GET', '/access/permissions', params)) as Record<string, Record<string, number>>;
  if (options['output-format'] && options['output-format'] !== 'text') return printed(data, options);
  const rows = Object.keys(data)
    .sort()
    .map((path) => ({
      ACL: path,
      Permissions: Object.keys(data[path] ?? {})
        .sort()
        .map((priv) => (data[path]![priv] ? `${priv} (*)` : priv))
        .join(', '),
    }));
  return printed(rows, { ...options, 'output-format': 'text' });
}

export const pveumCommands: CliCommand[] = [
  apiCommand(
    ['user', 'add'],
    [['useradd']],
    { positional: ['userid'], options: ['password', ...userOptions], booleans: ['enable'] },
    'POST',
    () => '/access/users',
  ),
  apiCommand(
    ['user', 'modify'],
    [['usermod']],
    { positional: ['userid'], options: [...userOptions, 'append'], booleans: ['enable', 'append'] },
    'PUT',
    ({ userid }) => `/access/users/${userid}`,
  ),
  apiCommand(
    ['user', 'delete'],
    [['userdel']],
    { positional: ['userid'], options: [] },
    'DELETE',
    ({ userid }) => `/access/users/${userid}`,
  ),
  apiCommand(
    ['user', 'list'],
    [],
    { positional: [], options: ['enabled', 'full'], booleans: ['enabled', 'full'] },
    'GET',
    () => '/access/users',
    true,
  ),
  apiCommand(
    ['user', 'token', 'add'],
    [],
    { positional: ['userid', 'tokenid'], options: ['privsep', 'expire', 'comment'], booleans: ['privsep'] },
    'POST',
    ({ userid, tokenid }) => `/access/users/${userid}/token/${tokenid}`,
    true,
  ),
  apiCommand(
    ['user', 'token', 'modify'],
    [],
    { positional: ['userid', 'tokenid'], options: ['privsep', 'expire', 'comment'], booleans: ['privsep'] },
    'PUT',
    ({ userid, tokenid }) => `/access/users/${userid}/token/${tokenid}`,
    true,
  ),
  apiCommand(
    ['user', 'token', 'list'],
    [],
    { positional: ['userid'], options: [] },
    'GET',
    ({ userid }) => `/access/users/${userid}/token`,
    true,
  ),
  apiCommand(
    ['user', 'token', 'remove'],
    [],
    { positional: ['userid', 'tokenid'], options: [] },
    'DELETE',
    ({ userid, tokenid }) => `/access/users/${userid}/token/${tokenid}`,
  ),
  {
    words: ['user', 'permissions'],
    spec: { positional: ['userid'], options: ['path', ...formatterOptions], booleans: [...formatterBooleans] },
    run: (context, { positional, options }) => permissions(context, positional.userid!, options),
  },
  {
    words: ['user', 'token', 'permissions'],
    spec: {
      positional: ['userid', 'tokenid'],
      options: ['path', ...formatterOptions],
      booleans: [...formatterBooleans],
    },
    run: (context, { positional, options }) =>
      permissions(context, `${positional.userid}!${positional.tokenid}`, options),
  },
  apiCommand(
    ['role', 'add'],
    [['roleadd']],
    { positional: ['roleid'], options: ['privs'], lists: ['privs'] },
    'POST',
    () => '/access/roles',
  ),
  apiCommand(
    ['role', 'modify'],
    [['rolemod']],
    { positional: ['roleid'], options: ['privs', 'append'], booleans: ['append'], lists: ['privs'] },
    'PUT',
    ({ roleid }) => `/access/roles/${roleid}`,
  ),
  apiCommand(
    ['role', 'delete'],
    [['roledel']],
    { positional: ['roleid'], options: [] },
    'DELETE',
    ({ roleid }) => `/access/roles/${roleid}`,
  ),
  apiCommand(['role', 'list'], [], { positional: [], options: [] }, 'GET', () => '/access/roles', true),
  apiCommand(['acl', 'modify'], [['aclmod']], aclSpec, 'PUT', () => '/access/acl'),
  apiCommand(['acl', 'delete'], [['acldel']], aclSpec, 'PUT', () => '/access/acl', false, { delete: '1' }),
  apiCommand(['acl', 'list'], [], { positional: [], options: [] }, 'GET', () => '/access/acl', true),
  apiCommand(
    ['group', 'add'],
    [['groupadd']],
    { positional: ['groupid'], options: ['comment'] },
    'POST',
    () => '/access/groups',
  ),
  apiCommand(
    ['group', 'delete'],
    [['groupdel']],
    { positional: ['groupid'], options: [] },
    'DELETE',
    ({ groupid }) => `/access/groups/${groupid}`,
  ),
];
