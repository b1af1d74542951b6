import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParameterError } from './errors';
import { isUpid } from './tasks';
import { p, validateParams } from './validate';

function errorsOf(fn: () => void): Record<string, string> | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ParameterError);
    return error.errors;
  }
}

test('every bad parameter is reported with JSONSchema.pm wording', () => {
  const errors = errorsOf(() =>
    validateParams(
      { vmid: '42', full: 'yes', cores: 'two', extra: '1' },
      { vmid: p.vmid, full: p.bool, cores: p.int, name: p.reqStr },
    ),
  );
  assert.deepEqual(errors, {
    vmid: 'value must have a minimum value of 100',
    full: "type check ('boolean') failed - got 'yes'",
    cores: "type check ('integer') failed - got 'two'",
    extra: 'property is not defined in schema and the schema does not allow additional properties',
    name: 'property is missing and it is not optional',
  });
});

test('formats and enumerations', () => {
  assert.deepEqual(
    errorsOf(() =>
      validateParams({ sshkeys: 'ssh-rsa AAAA x' }, { sshkeys: { type: 'string', format: 'urlencoded' } }),
    ),
    { sshkeys: 'invalid format - invalid urlencoded string: ssh-rsa AAAA x\n' },
  );
  assert.equal(
    errorsOf(() =>
      validateParams(
        { sshkeys: encodeURIComponent('ssh-rsa AAAA x\n') },
        { sshkeys: { type: 'string', format: 'urlencoded' } },
      ),
    ),
    undefined,
  );
  assert.deepEqual(
    errorsOf(() => validateParams({ t: 'c' }, { t: { type: 'string', enum: ['a', 'b'] } })),
    {
      t: "value 'c' does not have a value in the enumeration 'a, b'",
    },
  );
});

test('UPIDs are recognised by PVE pattern', () => {
  assert.ok(isUpid('UPID:pve-mp:00000ACD:00006AE8:679A423B:qmclone:112:capmox@pve!capi:'));
  assert.ok(!isUpid('UPID:pve:1:2:3:qmclone:112:root@pam:'));
  assert.ok(!isUpid('nonsense'));
});

test('SDN, storage and network formats answer with their own complaint', () => {
  const check = (value: string, spec: Parameters<typeof validateParams>[1][string]) =>
    errorsOf(() => validateParams({ v: value }, { v: spec }))?.v;
  const vnet = { type: 'string', format: 'pve-sdn-vnet-id' } as const;
  assert.equal(check('gdab12cd', vnet), undefined);
  assert.equal(
    check('gdab12cde', vnet),
    "invalid format - vnet ID 'gdab12cde' can't be more length than 8 characters\n",
  );
  assert.equal(check('1vnet', vnet), "invalid format - vnet ID '1vnet' contains illegal characters\n");
  const subnet = { type: 'string', format: 'pve-sdn-subnet-id' } as const;
  assert.equal(check('10.10.1.0/24', subnet), undefined);
  assert.equal(check('gdlab-10.10.1.0-24', subnet), undefined);
  assert.equal(check('10.10.1.0/33', subnet), 'invalid format - value does not look like a valid CIDR network\n');
  const storage = { type: 'string', format: 'pve-storage-id' } as const;
  assert.equal(check('local-lvm', storage), undefined);
  assert.equal(check('-x', storage), "invalid format - storage ID '-x' contains illegal characters\n");
  assert.equal(
    check('10.0.0.256', { type: 'string', format: 'ip' }),
    'invalid format - value does not look like a valid IP address\n',
  );
});

test('a pattern must match the whole value', () => {
  const size = { type: 'string', pattern: /\+?\d+(\.\d+)?[KMGT]?/ } as const;
  assert.equal(
    errorsOf(() => validateParams({ size: '+10G' }, { size })),
    undefined,
  );
  assert.deepEqual(
    errorsOf(() => validateParams({ size: '10GB' }, { size })),
    {
      size: 'value does not match the regex pattern',
    },
  );
});
