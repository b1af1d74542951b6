/**
 * The Kubernetes manifests (infra/k8s) agree with the processes they run: every variable a
 * container gets is one its config schema (apps/<app>/src/env.ts) reads, with a value the schema
 * accepts; every required one is given; a Secret reaches a container only if that process's
 * compiled code reads it (the API never sees a Proxmox credential); nothing secret sits in a
 * ConfigMap; KEDA scales each worker on exactly the queues it serves, at the Redis REDIS_URL names;
 * the API's Service reaches API_PORT; and kustomize lists every manifest.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { apiEnvSchema } from '../../../apps/api/src/env';
import { gatewayEnv } from '../../../apps/gateway/src/env';
import { installerEnv } from '../../../apps/installer/src/env';
import { overseerEnv } from '../../../apps/overseer/src/env';
import { simEnvSchema } from '../../../apps/pve-sim/src/env';
import { parseRedisUrl } from '../../../packages/config/src/index';
import { QUEUES } from '../../../packages/queue/src/index';
import { type AppName, ensureBuilt, NODE_FLAGS, repoRoot } from '../../../packages/stack/src/index';

/** What is used of a zod field here (the schemas are zod objects; zod itself is theirs, not ours). */
interface Field {
  safeParse(value: unknown): { success: boolean; error?: { message: string } };
  parse(value: unknown): unknown;
}
interface Schema {
  shape: Record<string, Field>;
}

const SCHEMAS: Partial<Record<AppName, Schema>> = {
  api: apiEnvSchema,
  installer: installerEnv,
  gateway: gatewayEnv,
  overseer: overseerEnv,
  'pve-sim': simEnvSchema,
};

/** Variables whose values are secrets (or may carry one): they may only come from a Secret. */
const SECRET_VARIABLES = [
  'DATABASE_URL',
  'REDIS_URL',
  'GLASSDOME_SECRET_KEY',
  'GLASSDOME_ADMIN_KEY',
  'METRICS_KEY',
  'PROXMOX_TOKEN_SECRET',
  'OVERSEER_WEBHOOK_SECRET',
  'PVE_SIM_TOKEN_SECRET',
  'PVE_SIM_ROOT_PASSWORD',
  'PVE_SIM_ADMIN_SECRET',
];

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field below.
type K8sObject = any;

interface Bundle {
  dir: string;
  objects: K8sObject[];
  /** ConfigMap name → its data. */
  configMaps: Map<string, Record<string, string>>;
  /** Secret name → its variables (from the env files' .example) or its files. */
  secrets: Map<string, { variables: Record<string, string>; files: string[] }>;
}

function readBundle(dir: string): Bundle {
  const kustomization = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS();
  const manifests = readdirSync(dir).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), manifests.sort(), `${dir}: kustomization lists every manifest`);
  const objects = manifests.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((document) => document.toJS()),
  );
  const configMaps = new Map<string, Record<string, string>>(
    objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data]),
  );
  const secrets: Bundle['secrets'] = new Map();
  for (const generator of kustomization.secretGenerator ?? []) {
    const variables: Record<string, string> = {};
    for (const envFile of generator.envs ?? []) {
      const example = join(dir, `${envFile}.example`);
      assert.ok(existsSync(example), `${example} shows what ${envFile} holds`);
      for (const line of readFileSync(example, 'utf8').split('\n')) {
        const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
        if (match) variables[match[1]!] = match[2]!;
      }
    }
    const files = (generator.files ?? []).map((entry: string) => entry.split('=')[0]!);
    secrets.set(generator.name, { variables, files });
  }
  return { dir, objects, configMaps, secrets };
}

const bundles = [readBundle(join(repoRoot, 'infra/k8s')), readBundle(join(repoRoot, 'infra/k8s/simulator'))];
const all = bundles.flatMap((bundle) => bundle.objects.map((object) => ({ bundle, object })));
const deployments = all.filter(({ object }) => object.kind === 'Deployment');

/** What a container's environment holds, and where each variable comes from. */
function environmentOf(bundle: Bundle, container: K8sObject) {
  const variables = new Map<string, { value?: string; from: 'literal' | 'configMap' | 'secret' | 'field' }>();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const data = bundle.configMaps.get(source.configMapRef.name);
      assert.ok(data, `ConfigMap ${source.configMapRef.name} exists`);
      for (const [name, value] of Object.entries(data)) variables.set(name, { value, from: 'configMap' });
    }
    if (source.secretRef) {
      const secret = bundle.secrets.get(source.secretRef.name);
      assert.ok(secret, `Secret ${source.secretRef.name} is generated`);
      for (const [name, value] of Object.entries(secret.variables)) variables.set(name, { value, from: 'secret' });
    }
  }
  for (const entry of container.env ?? []) {
    variables.set(entry.name, entry.valueFrom ? { from: 'field' } : { value: String(entry.value), from: 'literal' });
  }
  return variables;
}

/** The app a container's (or compose service's) node arguments run: its V8 flags, then its bundle. */
function appOfArgs(name: string, args: readonly string[] | undefined): AppName {
  const match = /^apps\/([a-z-]+)\/dist\/main\.js$/.exec(args?.at(-1) ?? '');
  assert.ok(match, `${name} runs a compiled bundle (its last argument: apps/<app>/dist/main.js)`);
  const app = match[1] as AppName;
  assert.ok(app in NODE_FLAGS, `${app} is a Glassdome process`);
  assert.deepEqual(args!.slice(0, -1), NODE_FLAGS[app], `${name} starts node with the flags pnpm start gives ${app}`);
  return app;
}

function appOf(container: K8sObject): AppName {
  const app = appOfArgs(container.name ?? '', container.args);
  assert.ok(app in SCHEMAS, `${app} is a process with a config schema`);
  return app;
}

const bundleText = new Map<AppName, string>();
/** The compiled code of `app` (built when stale): what the process really reads. */
function compiled(app: AppName): string {
  if (!bundleText.has(app)) {
    ensureBuilt(app);
    bundleText.set(app, readFileSync(join(repoRoot, 'apps', app, 'dist', 'main.js'), 'utf8'));
  }
  return bundleText.get(app)!;
}

test('every container is a Glassdome process given only variables its schema reads, each valid, none missing', () => {
  assert.deepEqual(
    new Set(deployments.map(({ object }) => object.metadata.name)),
    new Set(['api', 'installer', 'gateway', 'overseer', 'pve-sim']),
  );
  for (const { bundle, object } of deployments) {
    for (const container of object.spec.template.spec.containers) {
      const app = appOf(container);
      const schema = SCHEMAS[app]!;
      const env = environmentOf(bundle, container);
      for (const [name, { value }] of env) {
        assert.ok(name in schema.shape, `${app}: ${name} is not a variable it reads (apps/${app}/src/env.ts)`);
        if (value === undefined || value === '') continue;
        const parsed = schema.shape[name]!.safeParse(value);
        assert.ok(parsed.success, `${app}: ${name}=${JSON.stringify(value)} is refused: ${parsed.error?.message}`);
      }
      for (const [name, field] of Object.entries(schema.shape)) {
        if (field.safeParse(undefined).success) continue;
        assert.ok(env.has(name), `${app}: the required ${name} is not given`);
      }
    }
  }
});

test('secrets come from Secrets only, and reach only the processes whose code reads them', () => {
  for (const { bundle, object } of deployments) {
    const podSpec = object.spec.template.spec;
    for (const container of podSpec.containers) {
      const app = appOf(container);
      const code = compiled(app);
      for (const [name, { from }] of environmentOf(bundle, container)) {
        if (SECRET_VARIABLES.includes(name)) assert.equal(from, 'secret', `${app}: ${name} must come from a Secret`);
        if (from === 'secret') {
          assert.ok(code.includes(`.${name}`), `${app}: is given the secret ${name} but its code never reads it`);
        }
      }
      // A mounted Secret is a file a variable of the process names, and one it reads.
      for (const mount of container.volumeMounts ?? []) {
        const volume = podSpec.volumes.find((v: K8sObject) => v.name === mount.name);
        if (!volume?.secret) continue;
        const secret = bundle.secrets.get(volume.secret.secretName);
        assert.ok(secret, `Secret ${volume.secret.secretName} is generated`);
        for (const file of secret.files) {
          const path = `${mount.mountPath}/${file}`;
          const variable = (container.env ?? []).find((entry: K8sObject) => entry.value === path);
          assert.ok(variable, `${app}: nothing points at the mounted ${path}`);
          assert.ok(code.includes(`.${variable.name}`), `${app}: mounts ${path} but never reads ${variable.name}`);
        }
      }
    }
  }
  const api = deployments.find(({ object }) => object.metadata.name === 'api')!;
  const apiEnv = environmentOf(api.bundle, api.object.spec.template.spec.containers[0]);
  for (const name of apiEnv.keys()) assert.doesNotMatch(name, /^PROXMOX_(TOKEN_SECRET|SSH_KEY_FILE)$/);
  assert.equal(api.object.spec.template.spec.volumes?.some((v: K8sObject) => v.secret) ?? false, false);
});

test('KEDA scales each worker on exactly the queues it serves, at the Redis REDIS_URL names', () => {
  const main = bundles[0]!;
  const redisUrl = main.secrets.get('glassdome-backing')!.variables.REDIS_URL!;
  const target = parseRedisUrl(redisUrl);
  assert.equal(target.kind, 'server', 'the example names one Redis server');
  const redis = new URL(redisUrl);
  const address = `${redis.hostname}:${redis.port || '6379'}`;
  const prefix = main.configMaps.get('glassdome-common')!.QUEUE_PREFIX!;
  const scaled = main.objects.filter((object) => object.kind === 'ScaledObject');
  assert.deepEqual(scaled.map((object) => object.spec.scaleTargetRef.name).sort(), ['gateway', 'installer']);
  for (const object of scaled) {
    const deployment = main.objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === object.spec.scaleTargetRef.name,
    );
    assert.ok(deployment, `${object.metadata.name} scales an existing Deployment`);
    const container = deployment.spec.template.spec.containers[0];
    const app = appOf(container);
    const variable = app === 'installer' ? 'INSTALLER_QUEUES' : 'GATEWAY_QUEUES';
    const given = environmentOf(main, container).get(variable)?.value;
    const served = SCHEMAS[app]!.shape[variable]!.parse(given) as string[];
    for (const queue of served) assert.ok(queue in QUEUES, `${queue} is a queue`);
    const watched = object.spec.triggers.map((trigger: K8sObject) => {
      assert.equal(trigger.type, 'redis');
      assert.equal(trigger.metadata.address, address, 'KEDA watches the Redis REDIS_URL names');
      return trigger.metadata.listName;
    });
    assert.deepEqual(
      watched.sort(),
      served.map((queue) => `${prefix}:${queue}:wait`).sort(),
      `${app}: one trigger per queue it serves, on BullMQ's wait list`,
    );
  }
});

/** The variable that sets each named port a process listens on. */
const PORT_VARIABLES: Record<string, string> = {
  'api/http': 'API_PORT',
  'pve-sim/api': 'PVE_SIM_PORT',
  'pve-sim/ssh': 'PVE_SIM_SSH_PORT',
};

test("the API's Service reaches the port the API listens on", () => {
  for (const bundle of bundles) {
    for (const service of bundle.objects.filter((object) => object.kind === 'Service')) {
      const deployment = bundle.objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === service.metadata.name,
      );
      assert.ok(deployment, `Service ${service.metadata.name} has its Deployment`);
      const container = deployment.spec.template.spec.containers[0];
      const env = environmentOf(bundle, container);
      for (const port of service.spec.ports) {
        const containerPort = container.ports.find((p: K8sObject) => p.name === port.targetPort);
        assert.ok(containerPort, `${service.metadata.name}: targetPort ${port.targetPort} is a named container port`);
        const variable = PORT_VARIABLES[`${appOf(container)}/${port.targetPort}`];
        assert.ok(variable, `${service.metadata.name}: port ${port.targetPort} is one the process opens`);
        assert.equal(String(containerPort.containerPort), env.get(variable)?.value, `${variable} is the port served`);
      }
      for (const key of Object.keys(service.spec.selector)) {
        assert.equal(deployment.spec.template.metadata.labels[key], service.spec.selector[key]);
      }
    }
  }
});

test('docker-compose.yml starts each process with the same V8 flags as pnpm start', () => {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[] }>;
  };
  const apps = Object.entries(compose.services)
    .filter(([, service]) => service.command?.some((arg) => arg.endsWith('/dist/main.js')))
    .map(([name, service]) => appOfArgs(`compose service ${name}`, service.command));
  assert.deepEqual(new Set(apps), new Set(['api', 'installer', 'gateway', 'overseer', 'pve-sim']));
});

test("the image's default command (the API) starts node with the API's V8 flags", () => {
  const dockerfile = readFileSync(join(repoRoot, 'infra', 'docker', 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
  assert.ok(cmd, 'the Dockerfile has a CMD in exec form');
  assert.equal(appOfArgs('the Dockerfile CMD', JSON.parse(cmd[1]!) as string[]), 'api');
});
