import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './index';

test('a planted secret never appears in log output, at any of the usual depths', () => {
  let output = '';
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      output += chunk.toString();
      callback();
    },
  });
  const logger = createLogger({ name: 'test', level: 'debug', destination });
  const secret = 'PLANTED-9f1c2e7a-secret';
  logger.info({ tokenSecret: secret, user: 'root' }, 'top level');
  logger.info({ config: { PROXMOX_TOKEN_SECRET: secret, password: secret } }, 'nested');
  logger.info({ req: { headers: { authorization: `Bearer ${secret}`, cookie: secret } } }, 'request');
  logger.child({ job: { privateKey: secret } }).warn('child');
  assert.equal(output.trim().split('\n').length, 4);
  assert.ok(!output.includes(secret), `secret leaked: ${output}`);
  assert.match(output, /\[redacted\]/);
  assert.match(output, /"user":"root"/);
});
