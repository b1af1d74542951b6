import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describePostgresUrl } from './connection';

test('a Postgres URL is described by host, port and database, never its password', () => {
  assert.equal(
    describePostgresUrl('postgres://glassdome:s3cret@db.example:6543/glassdome'),
    'db.example:6543/glassdome',
  );
  assert.equal(describePostgresUrl('postgres://glassdome@127.0.0.1/glassdome'), '127.0.0.1:5432/glassdome');
});

test('a host parameter is described as pg connects to it: over the URL host, a directory being the socket', () => {
  assert.equal(
    describePostgresUrl('postgres://glassdome:s3cret@localhost/glassdome?host=/var/run/postgresql'),
    '/var/run/postgresql:5432/glassdome',
  );
  assert.equal(describePostgresUrl('postgres://glassdome@localhost/glassdome?host=db2'), 'db2:5432/glassdome');
});

test('an unparseable URL is named as such, not echoed', () => {
  assert.equal(describePostgresUrl('not a url :: s3cret'), '(unparseable DATABASE_URL)');
});
