import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, formatResult, perlPrettyJson, textTable } from './format';
import { CliParameterError, type OptionSpec, parseCommandLine } from './options';
import { vmBooleanKeys, vmConfigKeys } from './vm-keys';

const qmSet: OptionSpec = { positional: ['vmid'], options: vmConfigKeys, booleans: vmBooleanKeys };
const acl: OptionSpec = {
  positional: ['path'],
  options: ['roles', 'users', 'groups', 'tokens', 'propagate'],
  booleans: ['propagate'],
  lists: ['roles'],
};

test('--opt value, -opt value and --opt=value all set an option; positionals may come anywhere', () => {
  const parsed = parseCommandLine(['--memory', '2048', '9000', '-name', 'tmpl', '--scsihw=virtio-scsi-pci'], qmSet);
  assert.deepEqual(parsed, {
    positional: { vmid: '9000' },
    options: { memory: '2048', name: 'tmpl', scsihw: 'virtio-scsi-pci' },
  });
});

test('unique prefixes abbreviate option names, as the docs use -user and -role', () => {
  const parsed = parseCommandLine(['/', '-user', 'terraform@pve', '-role', 'Terraform'], acl);
  assert.deepEqual(parsed.options, { users: 'terraform@pve', roles: 'Terraform' });
  assert.equal(parseCommandLine(['100', '--core', '2'], qmSet).options.cores, '2');
});

test('an unknown or ambiguous option is a 400 "unable to parse option"', () => {
  assert.throws(
    () => parseCommandLine(['100', '--bogus', '1'], qmSet),
    (error: unknown) =>
      error instanceof CliParameterError &&
      error.message === 'unable to parse option' &&
      error.lines[0] === 'Unknown option: bogus',
  );
  assert.throws(() => parseCommandLine(['100', '--net', 'x'], qmSet), /unable to parse option/);
});

test('booleans take an optional value and accept yes/no/on/off', () => {
  assert.deepEqual(
    parseCommandLine(['/', '--roles', 'R', '--users', 'u@pve', '--propagate'], acl).options.propagate,
    '1',
  );
  assert.equal(parseCommandLine(['/', '--propagate', 'no', '--roles', 'R'], acl).options.propagate, '0');
  assert.throws(
    () => parseCommandLine(['/', '--propagate', 'maybe'], acl),
    (error: unknown) =>
      error instanceof CliParameterError && error.errors.propagate === "type check ('boolean') failed - got 'maybe'",
  );
});

test('repeated list options are joined; positional count is checked', () => {
  assert.equal(parseCommandLine(['/', '--roles', 'A', '--roles', 'B'], acl).options.roles, 'A,B');
  assert.throws(() => parseCommandLine([], qmSet), /not enough arguments/);
  assert.throws(() => parseCommandLine(['1', '2'], qmSet), /too many arguments/);
});

test('canonical JSON sorts keys; Perl pretty JSON indents by three with " : "', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1], c: 'x' } }), '{"a":{"c":"x","d":[1]},"b":1}');
  assert.equal(
    perlPrettyJson([{ name: 'lo', 'ip-addresses': [] }]),
    '[\n   {\n      "ip-addresses" : [],\n      "name" : "lo"\n   }\n]',
  );
});

test('text tables use UTF-8 box drawing with a double rule under the header', () => {
  const table = textTable(
    ['key', 'value'],
    [
      { key: 'full-tokenid', value: 'a@pve!t' },
      { key: 'info', value: { privsep: '0' } },
    ],
  );
  assert.equal(
    table,
    [
      '┌──────────────┬─────────────────┐',
      '│ key          │ value           │',
      '╞══════════════╪═════════════════╡',
      '│ full-tokenid │ a@pve!t         │',
      '├──────────────┼─────────────────┤',
      '│ info         │ {"privsep":"0"} │',
      '└──────────────┴─────────────────┘',
      '',
    ].join('\n'),
  );
  assert.equal(formatResult('100', 'text'), '100\n');
  assert.equal(formatResult('100', 'json'), '"100"\n');
});
