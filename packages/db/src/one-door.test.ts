import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

/**
 * One door to Postgres: dependency-cruiser keeps kysely's imports in packages/db, but a transaction
 * handed out by `inTransaction` is the query builder too, so a query can be written anywhere it
 * travels without importing anything. This finds such queries outside packages/db (tests, benchmarks
 * and the test kit may inspect tables directly).
 */
test('no query is built outside packages/db', () => {
  const root = new URL('../../../', import.meta.url).pathname;
  const builders = ['selectFrom', 'insertInto', 'updateTable', 'deleteFrom', 'replaceInto', 'mergeInto'];
  let found = '';
  try {
    found = execFileSync(
      'git',
      [
        'grep',
        '-n',
        '-E',
        `\\.(${builders.join('|')})\\(`,
        '--',
        'apps',
        'packages',
        ':!packages/db',
        ':!packages/testkit',
        ':!*.test.ts',
        ':!*/test/*',
      ],
      { cwd: root, encoding: 'utf8' },
    );
  } catch (error) {
    // git grep exits 1 when nothing matches.
    if ((error as { status?: number }).status !== 1) throw error;
  }
  assert.deepEqual(found.split('\n').filter(Boolean), [], 'add a repository function in packages/db instead');
});
