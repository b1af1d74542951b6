import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileLabGraph } from '../graph/compile';
import { topologicalOrder } from '../graph/queries';
import { labSpecJsonSchema, vmRequestJsonSchema } from '../json-schema';
import { parseLabSpec } from '../spec/parse';
import { LAB_CATALOG, resolveCatalogTemplate } from '.';

test('the catalog has at least three labs with unique ids, each a valid spec named after its id', () => {
  assert.ok(LAB_CATALOG.length >= 3);
  assert.equal(new Set(LAB_CATALOG.map((entry) => entry.id)).size, LAB_CATALOG.length);
  for (const entry of LAB_CATALOG) {
    const result = parseLabSpec(entry.spec);
    assert.ok(result.ok, `${entry.id}: ${JSON.stringify(!result.ok && result.issues)}`);
    assert.equal(result.spec.name, entry.id);
    assert.ok(entry.title.length > 0 && entry.description.length > 0);
    assert.equal(topologicalOrder(compileLabGraph(result.spec)).length, compileLabGraph(result.spec).tasks.length);
  }
});

test('catalog labs survive a JSON round trip, as GET /lab-templates serves them', () => {
  for (const entry of LAB_CATALOG) {
    assert.ok(parseLabSpec(JSON.stringify(entry.spec), { contentType: 'json' }).ok, entry.id);
  }
});

test('catalog labs provision with real commands and keep secrets out of the spec', () => {
  const pentest = resolveCatalogTemplate('web-pentest-101');
  assert.ok(pentest);
  const text = JSON.stringify(LAB_CATALOG);
  assert.match(text, /apache2/);
  const commands = LAB_CATALOG.flatMap((entry) => entry.spec.vms.flatMap((vm) => vm.provision ?? [])).flatMap((step) =>
    'run' in step ? [step.run] : [],
  );
  const domainSetup = commands.filter((command) => command.includes('--adminpass'));
  assert.equal(domainSetup.length, 1);
  assert.match(domainSetup[0]!, /--adminpass="\$pass"/, 'the AD password is generated on the DC, never in the spec');
  assert.match(domainSetup[0]!, /pass="\$\(openssl rand/);
  assert.equal(resolveCatalogTemplate('no-such-lab'), undefined);
});

test('JSON Schemas are generated from the zod schemas', () => {
  const schema = labSpecJsonSchema() as {
    $schema: string;
    required: string[];
    additionalProperties: boolean;
    properties: Record<string, { default?: unknown }>;
  };
  assert.match(schema.$schema, /2020-12/);
  assert.deepEqual(schema.required, ['name', 'vms']);
  assert.equal(schema.additionalProperties, false);
  assert.equal(schema.properties.ttl?.default, '8h');
  assert.deepEqual(Object.keys(schema.properties), [
    'name',
    'description',
    'ttl',
    'copies',
    'onFailure',
    'networks',
    'rules',
    'vms',
  ]);
  const policy = labSpecJsonSchema() as {
    properties: {
      networks: { items: { properties: Record<string, { anyOf?: unknown[]; default?: unknown }> } };
      rules: { items: { required: string[]; properties: { ports: { items: { pattern: string } } } } };
    };
  };
  const network = policy.properties.networks.items.properties;
  assert.equal(network.egress?.default, 'deny');
  assert.equal(network.egress?.anyOf?.length, 2, 'egress: deny/allow or a list');
  assert.equal(network.intra?.default, 'allow');
  assert.ok(network.gateway);
  assert.deepEqual(policy.properties.rules.items.required, ['from', 'to', 'ports']);
  assert.match('tcp/8000-8100', new RegExp(policy.properties.rules.items.properties.ports.items.pattern));
  const vm = vmRequestJsonSchema() as { required: string[] };
  assert.deepEqual(vm.required, ['name', 'os']);
});
