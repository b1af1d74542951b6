/**
 * Ansible's community.general Proxmox info modules (Debian's `ansible` package: community.general
 * 6.6, over Debian's python3-proxmoxer) read storage, access and task information from the simulator
 * over HTTPS, as root with a password and as the privilege-separated deploy token; its proxmox
 * inventory plugin lists the node and the VMs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../src/index';

const hasAnsible = spawnSync('ansible-playbook', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasAnsible
  ? false
  : '`ansible` is not installed: apt-get install ansible python3-proxmoxer to run this test';

interface ModuleAnswer {
  failed?: boolean;
  msg?: string;
  [key: string]: unknown;
}

/**
 * The module calls, one task each, in a playbook run once (one Ansible start instead of one per
 * module). Every answer is kept (`ignore_errors`) and written to results.json.
 */
const playbook = `- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    root: &root
      api_host: "{{ host }}"
      api_user: root@pam
      api_password: "{{ root_password }}"
      validate_certs: false
    token: &token
      api_host: "{{ host }}"
      api_user: "{{ token_user }}"
      api_token_id: "{{ token_name }}"
      api_token_secret: "{{ token_secret }}"
      validate_certs: false
  tasks:
    - { community.general.proxmox_storage_info: { <<: *root }, register: storages, ignore_errors: true }
    - { community.general.proxmox_storage_info: { <<: *root, storage: local-lvm }, register: lvm, ignore_errors: true }
    - { community.general.proxmox_storage_info: { <<: *token, type: lvmthin }, register: token_storages, ignore_errors: true }
    - { community.general.proxmox_domain_info: { <<: *root }, register: domains, ignore_errors: true }
    - { community.general.proxmox_domain_info: { <<: *root, domain: pve }, register: pve, ignore_errors: true }
    - { community.general.proxmox_group_info: { <<: *token }, register: group_list, ignore_errors: true }
    - { community.general.proxmox_user_info: { <<: *root }, register: users, ignore_errors: true }
    - { community.general.proxmox_user_info: { <<: *root, userid: glassdome@pve }, register: one_user, ignore_errors: true }
    - { community.general.proxmox_user_info: { <<: *token }, register: token_users, ignore_errors: true }
    - { community.general.proxmox_user_info: { <<: *token, userid: glassdome@pve }, register: token_one_user, ignore_errors: true }
    - name: tasks, checking the certificate against the simulator's CA
      community.general.proxmox_tasks_info: { <<: *root, validate_certs: true, node: pve01 }
      environment: { REQUESTS_CA_BUNDLE: "{{ ca_file }}" }
      register: tasks
      ignore_errors: true
    - community.general.proxmox_tasks_info: { <<: *root, node: pve01, task: "{{ upid }}" }
      register: task
      ignore_errors: true
    - copy:
        dest: "{{ results_file }}"
        content: >-
          {{ dict(storages=storages, lvm=lvm, token_storages=token_storages, domains=domains, pve=pve,
          groups=group_list, users=users, one_user=one_user, token_users=token_users, token_one_user=token_one_user,
          tasks=tasks, task=task) | to_json }}
`;

/** Runs the playbook with Debian's ansible-playbook; returns each task's registered answer by name. */
async function runPlaybook(dir: string, vars: Record<string, string>): Promise<Record<string, ModuleAnswer>> {
  await writeFile(join(dir, 'info.yml'), playbook);
  // Secrets go in a vars file, not on the command line.
  await writeFile(join(dir, 'vars.json'), JSON.stringify({ ...vars, results_file: join(dir, 'results.json') }), {
    mode: 0o600,
  });
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('ansible-playbook', ['-i', 'localhost,', '-e', `@${join(dir, 'vars.json')}`, 'info.yml'], {
      cwd: dir,
      env: ansibleEnv(dir),
    });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.stderr.on('data', (chunk) => {
      text += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0 ? resolve(text) : reject(new Error(`ansible-playbook: ${status}\n${text}`)),
    );
  });
  try {
    return JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
  } catch (error) {
    throw new Error(`no results from the playbook: ${error}\n${output}`);
  }
}

/**
 * Ansible's proxmox inventory plugin (token auth, certificate checked against the simulator's CA):
 * it walks /nodes, each node's qemu and lxc lists, VM configs and status.
 */
async function runInventory(dir: string, inventory: string): Promise<Record<string, unknown>> {
  await writeFile(join(dir, 'sim.proxmox.yml'), inventory, { mode: 0o600 });
  return new Promise((resolve, reject) => {
    const child = spawn('ansible-inventory', ['-i', 'sim.proxmox.yml', '--list'], {
      cwd: dir,
      env: {
        ...ansibleEnv(dir),
        ANSIBLE_INVENTORY_ENABLED: 'community.general.proxmox',
        // A source the plugin cannot read is a failure here, not a warning.
        ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
        REQUESTS_CA_BUNDLE: join(dir, 'ca.pem'),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`ansible-inventory: ${status}\n${stderr}`)),
    );
  });
}

function ansibleEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANSIBLE_HOME: join(dir, 'home'),
    ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
    ANSIBLE_NOCOLOR: '1',
    // Debian's ansible runs modules under Debian's python3, where python3-proxmoxer lives.
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
  };
}

function names(list: unknown, key: string): string[] {
  return (list as Record<string, string>[]).map((item) => item[key]!);
}

/** Runs a clone as the deploy token inside the simulator and waits for its task, so the node has a task. */
async function cloneAsToken(sim: RunningSimulator): Promise<string> {
  const auth = { userid: 'glassdome@pve', tokenid: 'deploy' };
  const answer = await sim.sim.dispatch({
    method: 'POST',
    path: '/nodes/pve01/qemu/9000/clone',
    params: { newid: '321', name: 'ansible-vm' },
    auth,
  });
  assert.equal(answer.status, 200);
  const upid = String(answer.data);
  for (;;) {
    const status = await sim.sim.dispatch({
      method: 'GET',
      path: `/nodes/pve01/tasks/${upid}/status`,
      params: {},
      auth,
    });
    if ((status.data as { status: string }).status === 'stopped') return upid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('community.general proxmox_*_info modules read storage, access and tasks from the simulator', {
  skip,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pve-sim-ansible-'));
  const sim = await startSimulator({ port: 0, tls: true, timeScale: 0.01 });
  try {
    await writeFile(join(dir, 'ca.pem'), sim.info.caCert!);
    const upid = await cloneAsToken(sim);
    const [tokenUser, tokenName] = sim.info.tokenId.split('!') as [string, string];
    const inventory = runInventory(
      dir,
      [
        'plugin: community.general.proxmox',
        `url: ${sim.info.apiUrl}`,
        `user: ${tokenUser}`,
        `token_id: ${tokenName}`,
        `token_secret: ${sim.info.tokenSecret}`,
        'validate_certs: true',
        'want_facts: true',
        '',
      ].join('\n'),
    );
    const r = await runPlaybook(dir, {
      // community.general 6.x has no api_port: proxmoxer takes host:port in api_host.
      host: `127.0.0.1:${new URL(sim.info.apiUrl).port}`,
      root_password: sim.info.rootPassword,
      token_user: tokenUser,
      token_name: tokenName,
      token_secret: sim.info.tokenSecret,
      ca_file: join(dir, 'ca.pem'),
      upid,
    });
    const ok = (name: string) => {
      assert.ok(r[name] && !r[name].failed, `${name}: ${JSON.stringify(r[name])}`);
      return r[name];
    };

    // Storage: every storage for root, the one the token may audit for the token.
    assert.deepEqual(names(ok('storages').proxmox_storages, 'storage'), ['local', 'local-lvm']);
    const [lvmItem] = ok('lvm').proxmox_storages as Record<string, unknown>[];
    assert.equal(lvmItem!.storage, 'local-lvm');
    assert.equal(lvmItem!.type, 'lvmthin');
    assert.deepEqual(lvmItem!.content, ['images', 'rootdir']);
    assert.deepEqual(names(ok('token_storages').proxmox_storages, 'storage'), ['local-lvm']);

    // Access: realms, groups, users (with their tokens).
    assert.deepEqual(names(ok('domains').proxmox_domains, 'realm'), ['pam', 'pve']);
    assert.equal((ok('pve').proxmox_domains as Record<string, string>[])[0]!.type, 'pve');
    assert.deepEqual(ok('groups').proxmox_groups, []);
    const users = ok('users').proxmox_users as Record<string, unknown>[];
    assert.deepEqual(names(users, 'userid'), ['glassdome@pve', 'root@pam']);
    assert.equal(users[0]!.enabled, true);
    assert.deepEqual(users[0]!.tokens, [
      { tokenid: 'deploy', privsep: true, expire: 0, comment: 'Glassdome deploy token' },
    ]);
    assert.equal((ok('one_user').proxmox_users as Record<string, string>[])[0]!.domain, 'pve');

    // As on PVE, the privilege-separated token (no User.Modify/Sys.Audit on /access/groups) is not its
    // user: it lists no users, and reading a user is refused (403, which the module reports as
    // "does not exist").
    assert.deepEqual(ok('token_users').proxmox_users, []);
    assert.equal(r.token_one_user?.failed, true);
    assert.equal(r.token_one_user?.msg, "User 'glassdome@pve' does not exist");

    // Tasks: the token's clone on pve01, listed (over a verified certificate) and looked up by UPID.
    assert.ok(names(ok('tasks').proxmox_tasks, 'upid').includes(upid));
    const [taskItem] = ok('task').proxmox_tasks as Record<string, unknown>[];
    assert.equal(taskItem!.upid, upid);
    assert.equal(taskItem!.type, 'qmclone');
    assert.equal(taskItem!.status, 'OK');
    assert.equal(taskItem!.failed, undefined);

    // Inventory: node pve01 and the token's VM with its facts (the plugin leaves templates such as 9000
    // out of the hosts).
    const inv = (await inventory) as {
      _meta: { hostvars: Record<string, Record<string, unknown>> };
      [group: string]: { hosts?: string[] } | unknown;
    };
    assert.deepEqual((inv.proxmox_nodes as { hosts: string[] }).hosts, ['pve01']);
    assert.deepEqual((inv.proxmox_pve01_qemu as { hosts: string[] }).hosts, ['ansible-vm']);
    assert.deepEqual((inv.proxmox_all_stopped as { hosts: string[] }).hosts, ['ansible-vm']);
    assert.equal(inv._meta.hostvars['ansible-vm']!.proxmox_vmid, 321);
    assert.equal(inv._meta.hostvars['ansible-vm']!.proxmox_status, 'stopped');
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
