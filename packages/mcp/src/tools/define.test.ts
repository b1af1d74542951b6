import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loggableArguments } from './define';

const CANARY = 'canary-Zq81';

test('logged arguments carry no secret: secret-named fields, commands and files, in a spec object or in YAML text', () => {
  const logged = JSON.stringify(
    loggableArguments({
      spec: {
        name: 'lab',
        vms: [
          {
            name: 'web',
            password: CANARY,
            cloudInit: { runcmd: [`echo root:${CANARY} | chpasswd`] },
            provision: [{ file: { path: '/etc/app.conf', content: CANARY } }],
          },
        ],
      },
      confirm: `1.${CANARY}`,
      to: `name: lab\nvms:\n  - name: web\n    provision:\n      - run: echo ${CANARY}\n    apiKey: ${CANARY}\n`,
      from: `{unclosed: ${CANARY}`,
      template: 'web-pentest-101',
    }),
  );
  assert.ok(!logged.includes(CANARY), logged);
  const parsed = JSON.parse(logged) as {
    spec: { vms: { name: string; password: string; provision: string }[] };
    to: { decodedFromText: { vms: { name: string; provision: string; apiKey: string }[] } };
    from: string;
    template: string;
    confirm: string;
  };
  assert.equal(parsed.spec.vms[0]?.name, 'web', 'what is not secret stays readable');
  assert.equal(parsed.spec.vms[0]?.password, '[redacted]');
  assert.equal(parsed.to.decodedFromText.vms[0]?.provision, '[redacted]');
  assert.equal(parsed.to.decodedFromText.vms[0]?.apiKey, '[redacted]');
  assert.match(parsed.from, /^\[spec text, \d+ characters, not parsed\]$/);
  assert.equal(parsed.confirm, '[redacted]');
  assert.equal(parsed.template, 'web-pentest-101');
});
