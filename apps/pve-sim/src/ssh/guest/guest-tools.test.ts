import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestCommands } from './guest-commands';
import { type GuestEffect, GuestMachine } from './guest-machine';
import { guestOsProfiles } from './os-profiles';

function makeGuest(packages: string[] = []) {
  const effects: GuestEffect[] = [];
  const machine = new GuestMachine(
    { vmid: 100, smbiosUuid: 'uuid', os: guestOsProfiles['ubuntu-22.04'], hostname: 'box', user: 'ubuntu' },
    (effect) => effects.push(effect),
  );
  for (const name of packages) machine.packages.add(name);
  const shell = machine.shell('root', guestCommands(machine));
  const run = async (script: string) => {
    let stdout = '';
    let stderr = '';
    const code = await shell.run(script, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    return { code, stdout, stderr };
  };
  return { machine, run, effects };
}

test('curl to the guest itself answers from the document root once a web server runs', async () => {
  const { run } = makeGuest(['apache2']);
  await run('mkdir -p /var/www/html && echo "<title>Acme intranet</title>" > /var/www/html/index.html');
  assert.equal((await run('curl -fsS http://127.0.0.1/')).code, 7, 'nothing listens before apache2 starts');
  await run('systemctl enable --now apache2');
  assert.deepEqual(await run("curl -fsS http://127.0.0.1/ | grep -q 'Acme intranet'"), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  assert.deepEqual(await run('curl -fsS -o /dev/null http://localhost/missing.php'), {
    code: 22,
    stdout: '',
    stderr: 'curl: (22) The requested URL returned error: 404\n',
  });
  assert.equal((await run('curl -s -A "UA x" http://10.0.0.9/')).code, 7, 'other hosts are unreachable');
  await run('curl -s -o /root/page http://127.0.0.1/index.html?x=1');
  assert.equal((await run('cat /root/page')).stdout, '<title>Acme intranet</title>\n');
});

test('sysctl --system applies sysctl.d files; single keys read and write', async () => {
  const { run } = makeGuest();
  await run("mkdir -p /etc/sysctl.d && printf '# router\\nnet.ipv4.ip_forward = 1\\n' > /etc/sysctl.d/90-lab.conf");
  assert.deepEqual(await run('sysctl --system'), {
    code: 0,
    stdout: '* Applying /etc/sysctl.d/90-lab.conf ...\nnet.ipv4.ip_forward = 1\n',
    stderr: '',
  });
  assert.equal((await run('sysctl net.ipv4.ip_forward')).stdout, 'net.ipv4.ip_forward = 1\n');
  assert.equal(
    (await run('sysctl -w vm.swappiness=10 && sysctl vm.swappiness')).stdout,
    'vm.swappiness = 10\nvm.swappiness = 10\n',
  );
});

test('openssl rand gives fresh random text; ip and iptables changes need root', async () => {
  const { run } = makeGuest();
  const first = (await run('openssl rand -base64 24')).stdout;
  assert.match(first, /^[A-Za-z0-9+/]{32}\n$/);
  assert.notEqual((await run('openssl rand -base64 24')).stdout, first);
  assert.match((await run('openssl rand -hex 4')).stdout, /^[0-9a-f]{8}\n$/);
  assert.equal((await run('iptables -A FORWARD -j ACCEPT')).code, 0);
  assert.deepEqual(
    await run('ip route replace 10.31.0.0/24 via 10.30.0.5'),
    { code: 2, stdout: '', stderr: 'Error: Nexthop has invalid gateway.\n' },
    'a machine outside a simulator has no NIC the gateway could be on',
  );
  assert.equal((await run('sudo -u ubuntu ip route add 10.0.0.0/8 via 10.30.0.5')).code, 2);
});

test('the AD domain script runs: substitution, a set -eu script, for loops and the realm krb5.conf', async () => {
  const { run } = makeGuest(['samba']);
  const provision = `set -eu
pass="$(openssl rand -base64 24)Aa1"
umask 077
printf '%s\\n' "$pass" > /root/administrator-password
samba-tool domain provision --realm=CORP.LAB --domain=CORP --server-role=dc \\
  --adminpass="$pass"`;
  assert.deepEqual(await run(provision), { code: 0, stdout: '', stderr: '' });
  assert.match((await run('cat /root/administrator-password')).stdout, /^[A-Za-z0-9+/]{32}Aa1\n$/);
  assert.equal(
    (await run('cp /var/lib/samba/private/krb5.conf /etc/krb5.conf && grep -c CORP.LAB /etc/krb5.conf')).stdout,
    '1\n',
  );
  const seeded = await run('set -eu\nfor user in alice bob; do samba-tool user create "$user" --random-password; done');
  assert.equal(seeded.code, 0);
});

test('systemctl knows units whose files provisioning wrote', async () => {
  const { run } = makeGuest();
  assert.equal((await run('systemctl enable --now lab-route')).code, 1);
  await run("mkdir -p /etc/systemd/system && printf '[Service]\\n' > /etc/systemd/system/lab-route.service");
  assert.equal(
    (await run('systemctl daemon-reload && systemctl enable --now lab-route && systemctl is-active -q lab-route')).code,
    0,
  );
});
