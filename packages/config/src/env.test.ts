import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, parseEnv } from './env';
import { backing, proxmox } from './vars';

const schema = z.object({ ...backing, PROXMOX_TOKEN_SECRET: z.string().min(1), PROXMOX_NODE: proxmox.PROXMOX_NODE });

test('defaults apply and empty strings count as unset', () => {
  const env = parseEnv(schema, { PROXMOX_TOKEN_SECRET: 's', REDIS_URL: '' });
  assert.equal(env.REDIS_URL, 'redis://127.0.0.1:6379');
  assert.equal(env.QUEUE_PREFIX, '{glassdome}');
});

test('one error names every bad or missing variable', () => {
  assert.throws(
    () => parseEnv(schema, { DATABASE_URL: 'mysql://nope', QUEUE_PREFIX: 'no-braces', PROXMOX_NODE: '-bad-' }),
    (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((problem) => problem.split(' ')[0]).sort(), [
        'DATABASE_URL',
        'PROXMOX_NODE',
        'PROXMOX_TOKEN_SECRET',
        'QUEUE_PREFIX',
      ]);
      assert.match(error.message, /PROXMOX_TOKEN_SECRET is required/);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    },
  );
});
