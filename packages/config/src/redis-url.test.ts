import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { parseEnv } from './env';
import { describeRedisTarget, parseRedisUrl, RedisUrlError } from './redis-url';
import { backing } from './vars';

test('redis:// names one server, credentials and TLS read from it', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), {
    kind: 'server',
    url: 'redis://127.0.0.1:6379',
    tls: false,
  });
  const secure = parseRedisUrl('rediss://app:s%40cret@redis.example:6380/2');
  assert.equal(secure.kind, 'server');
  assert.equal(secure.tls, true);
  assert.equal(secure.password, 's@cret');
  assert.equal(secure.username, 'app');
});

test('redis-sentinel:// names the sentinels and the master, with db and sentinelAuth', () => {
  assert.deepEqual(parseRedisUrl('redis-sentinel://:pw@10.0.0.1:26379,[::1]:26380,sentinel-c:26381/mymaster?db=3'), {
    kind: 'sentinel',
    sentinels: [
      { host: '10.0.0.1', port: 26379 },
      { host: '::1', port: 26380 },
      { host: 'sentinel-c', port: 26381 },
    ],
    master: 'mymaster',
    db: 3,
    sentinelAuth: false,
    tls: false,
    username: undefined,
    password: 'pw',
  });
  const secure = parseRedisUrl('rediss-sentinel://h:26379/m?sentinelAuth=1');
  assert.equal(secure.kind === 'sentinel' && secure.sentinelAuth && secure.tls, true);
});

test('redis-cluster:// names seed nodes', () => {
  assert.deepEqual(parseRedisUrl('redis-cluster://n1:7000,n2:7001'), {
    kind: 'cluster',
    nodes: [
      { host: 'n1', port: 7000 },
      { host: 'n2', port: 7001 },
    ],
    tls: false,
  });
});

test('what is wrong is said, without the password', () => {
  const cases: [string, RegExp][] = [
    ['http://redis:6379', /must be redis:\/\//],
    ['redis-sentinel://h1:26379,h2:26379', /name the master/],
    ['redis-sentinel://h1:26379/m?db=99', /db must be/],
    ['redis-sentinel://h1/m', /"h1" is not host:port/],
    ['redis-cluster://n1:7000/0', /no database or master/],
    ['redis-cluster://n1:7000?password=x', /unknown parameter password/],
    ['redis-cluster://:hunter2@n1:99999', /"n1:99999" is not host:port/],
  ];
  for (const [url, reason] of cases) {
    assert.throws(
      () => parseRedisUrl(url),
      (error: unknown) =>
        error instanceof RedisUrlError && reason.test(error.message) && !error.message.includes('hunter2'),
      url,
    );
  }
});

test('REDIS_URL accepts the three kinds and refuses others naming the variable', () => {
  const schema = z.object({ REDIS_URL: backing.REDIS_URL });
  for (const url of ['redis://127.0.0.1:6379', 'redis-sentinel://a:1,b:2/m', 'redis-cluster://a:1,b:2']) {
    assert.equal(parseEnv(schema, { REDIS_URL: url }).REDIS_URL, url);
  }
  assert.throws(() => parseEnv(schema, { REDIS_URL: 'redis-cluster://' }), /REDIS_URL/);
});

test('descriptions name hosts, never credentials', () => {
  assert.equal(describeRedisTarget('redis://:pw@h:7/0'), 'h:7');
  assert.equal(describeRedisTarget('redis-sentinel://:pw@a:1,b:2/m'), 'master m via sentinels a:1,b:2');
  assert.equal(describeRedisTarget('redis-cluster://u:pw@a:1'), 'cluster a:1');
  assert.equal(describeRedisTarget('nonsense'), '(unparseable REDIS_URL)');
});
