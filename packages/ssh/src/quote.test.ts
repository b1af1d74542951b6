import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { quoteArg, quoteArgv, withEnv } from './quote';

const hostile = [
  '; rm -rf /',
  "it's",
  "'",
  "''",
  '"$HOME"',
  '$(id)',
  '`id`',
  'a\nb',
  '\\',
  '*',
  '&& echo pwned',
  '|',
  '',
  ' leading and trailing ',
  '-n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must arrive unexpanded
  '${IFS}',
  'ünïcödé ✓',
];

test('each hostile argument survives a local POSIX shell as one literal word', () => {
  // /bin/sh -c runs the same parsing the remote login shell does; printf prints one line per argument.
  const printed = execFileSync('/bin/sh', ['-c', quoteArgv(['printf', '%s\\0', ...hostile])]);
  assert.deepEqual(printed.toString('utf8').split('\0').slice(0, -1), hostile);
});

test('a single quote is closed, escaped and reopened', () => {
  assert.equal(quoteArg("it's"), "'it'\\''s'");
  assert.equal(quoteArg(''), "''");
});

test('an empty argv or a NUL byte is refused rather than silently altered', () => {
  assert.throws(() => quoteArgv([]), TypeError);
  assert.throws(() => quoteArg('a\0b'), TypeError);
});

test('environment variables become quoted env(1) arguments and bad names are refused', () => {
  assert.deepEqual(withEnv(['qm', 'list'], { LANG: 'C', X: 'a b' }), ['env', 'LANG=C', 'X=a b', 'qm', 'list']);
  assert.deepEqual(withEnv(['true'], undefined), ['true']);
  assert.throws(() => withEnv(['true'], { 'A;rm': 'x' }), TypeError);
});
