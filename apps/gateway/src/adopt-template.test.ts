import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adoptionProblem } from './adopt-template';

const template = (fields: Record<string, string>) => ({ template: '1', ostype: 'l26', ...fields });

test('a template whose name, tags or description says the OS is adopted', () => {
  assert.equal(adoptionProblem('ubuntu-22.04', 9000, template({ name: 'ubuntu-2204-tmpl' })), undefined);
  assert.equal(adoptionProblem('ubuntu-24.04', 9001, template({ name: 'base', tags: 'noble;ubuntu' })), undefined);
  assert.equal(adoptionProblem('debian-12', 9002, template({ name: 'debian-12-tmpl' })), undefined);
  assert.equal(adoptionProblem('kali', 9003, template({ name: 'tpl', description: 'Kali rolling 2025.1' })), undefined);
});

test('a VM that is not a template, is not Linux, or says another OS is refused with the reason', () => {
  assert.match(adoptionProblem('kali', 100, { name: 'kali-box', template: '0' })!, /not a template/);
  assert.match(adoptionProblem('kali', 100, { name: 'kali-box' })!, /not a template/);
  assert.match(adoptionProblem('kali', 100, template({ name: 'kali', ostype: 'win11' }))!, /not Linux/);
  assert.match(adoptionProblem('ubuntu-22.04', 9000, template({ name: 'ubuntu-2404-tmpl' }))!, /does not say/);
  assert.match(adoptionProblem('debian-12', 9000, template({ name: 'debian-11-tmpl' }))!, /does not say/);
  assert.match(adoptionProblem('kali', 9000, template({ name: 'ubuntu-2204-tmpl' }))!, /does not say it is kali/);
});
