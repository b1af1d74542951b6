import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './index';

const secret = 'PLANTED-9f1c2e7a-secret';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().trim().split('\n'));
      callback();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
}

test('a planted secret never appears in log output, at any depth, in fields, errors and child bindings', () => {
  const { lines, logger } = capture();
  logger.info({ tokenSecret: secret, user: 'root' }, 'top level');
  logger.info({ config: { PROXMOX_TOKEN_SECRET: secret, password: secret } }, 'nested');
  logger.info({ req: { headers: { authorization: `Bearer ${secret}`, Cookie: secret } } }, 'request');
  logger.info({ a: { b: { c: { d: { e: { Password: secret } } } } }, list: [{ apiKey: secret }] }, 'deep');
  logger
    .child({ job: { privateKey: secret } })
    .child({ more: { passphrase: secret } })
    .warn('child');
  const failure = Object.assign(new Error('request failed'), {
    config: { headers: { Authorization: `PVEAPIToken=root@pam!gd=${secret}` } },
  });
  logger.error({ err: failure, vm: { cipassword: secret } }, 'error field');
  logger.error(failure, 'error alone');
  assert.equal(lines.length, 7);
  const output = lines.join('\n');
  assert.ok(!output.includes(secret), `secret leaked: ${output}`);
  assert.match(output, /"user":"root"/);
  const errorLine = JSON.parse(lines[5]!) as { err: { message: string; stack: string; type: string }; vm: unknown };
  assert.equal(errorLine.err.message, 'request failed', 'the error keeps its message');
  assert.match(errorLine.err.stack, /request failed/);
  assert.deepEqual(errorLine.vm, { cipassword: '[redacted]' });
  assert.equal((JSON.parse(lines[6]!) as { err: { message: string } }).err.message, 'request failed');
});

test('logging leaves the caller objects alone and survives a circular structure', () => {
  const { lines, logger } = capture();
  const fields: Record<string, unknown> = { step: 'clone', options: { token: secret } };
  fields.self = fields;
  logger.info(fields, 'circular');
  assert.equal((fields.options as { token: string }).token, secret, 'the caller object is unchanged');
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes(secret), lines[0]);
  assert.match(lines[0]!, /"step":"clone"/);
});
