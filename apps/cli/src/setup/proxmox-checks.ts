import { AuthenticationError, normalizeFingerprint, type Proxmox } from '@glassdome/proxmox';
import { proxmoxOf } from '../cluster';
import type { SetupAnswers } from './answers';
import { type CheckOutcome, failed, passed, reasonOf } from './outcome';
import { presentedFingerprint } from './tls-peer';

/** Asks the operator whether to trust what a server presented; absent in non-interactive runs. */
export type ConfirmTrust = (what: string, fingerprint: string) => Promise<boolean>;

/**
 * What deploying needs, and where (an ACL path prefix): the installer clones templates, configures and
 * starts VMs, allocates disks and reads the node; Glassdome never asks for Administrator.
 */
const REQUIRED_PRIVILEGES: { prefix: string; privs: string[]; role: string }[] = [
  {
    prefix: '/vms',
    privs: [
      'VM.Allocate',
      'VM.Audit',
      'VM.PowerMgmt',
      'VM.Config.Disk',
      'VM.Config.CPU',
      'VM.Config.Memory',
      'VM.Config.Network',
      'VM.Config.Cloudinit',
      'VM.Config.Options',
      'VM.Clone',
    ],
    role: 'PVEVMAdmin',
  },
  { prefix: '/storage', privs: ['Datastore.AllocateSpace'], role: 'PVEDatastoreUser' },
  { prefix: '/nodes', privs: ['Sys.Audit'], role: 'PVEAuditor' },
];

export interface ProxmoxCheckResult {
  outcomes: CheckOutcome[];
  /** The fingerprint pinned for the config file (undefined for a plain-http URL). */
  tlsFingerprint?: string;
}

async function pinCertificate(
  answers: SetupAnswers,
  confirm?: ConfirmTrust,
): Promise<CheckOutcome & { pinned?: string }> {
  const title = 'Proxmox reachable';
  if (new URL(answers.proxmoxUrl).protocol === 'http:') {
    return passed(title, `${answers.proxmoxUrl} uses plain HTTP: no certificate to pin (use https on a real cluster)`);
  }
  let presented: string;
  try {
    presented = await presentedFingerprint(answers.proxmoxUrl);
  } catch (error) {
    return failed(
      title,
      `cannot open a TLS connection to ${answers.proxmoxUrl}: ${reasonOf(error)}`,
      'check the URL and port (8006) and that pveproxy runs on the node (systemctl status pveproxy)',
    );
  }
  if (answers.tlsFingerprint && normalizeFingerprint(answers.tlsFingerprint) !== normalizeFingerprint(presented)) {
    return failed(
      title,
      `the server presents TLS fingerprint ${presented}, not the expected ${answers.tlsFingerprint}`,
      'compare with `pvenode cert info` on the node; if the certificate was renewed, give the new fingerprint',
    );
  }
  if (!answers.tlsFingerprint && confirm && !(await confirm('TLS certificate', presented))) {
    return failed(
      title,
      `TLS fingerprint ${presented} not trusted`,
      'compare it with `pvenode cert info` on the node before trusting it',
    );
  }
  return { ...passed(title, `TLS fingerprint ${presented} (pinned)`), pinned: presented };
}

function missingPrivileges(granted: Record<string, string[]>): string[] {
  return REQUIRED_PRIVILEGES.flatMap(({ prefix, privs }) =>
    privs
      .filter((priv) => !Object.entries(granted).some(([path, held]) => path.startsWith(prefix) && held.includes(priv)))
      .map((priv) => `${priv} on ${prefix}`),
  );
}

async function checkTokenAndNode(proxmox: Proxmox, answers: SetupAnswers): Promise<CheckOutcome[]> {
  let nodes: Awaited<ReturnType<Proxmox['cluster']['nodes']>>;
  try {
    nodes = await proxmox.cluster.nodes();
  } catch (error) {
    if (error instanceof AuthenticationError) {
      return [
        failed(
          'API token valid',
          `Proxmox refused token ${answers.tokenId}`,
          'check the token id and secret under Datacenter → Permissions → API Tokens (the secret is shown only when the token is created)',
        ),
      ];
    }
    return [
      failed(
        'API token valid',
        `the API call failed: ${reasonOf(error)}`,
        'check the Proxmox URL and that the API answers',
      ),
    ];
  }
  const outcomes = [passed('API token valid', `${answers.tokenId} accepted`)];
  const node = nodes.find((candidate) => candidate.node === answers.node);
  if (!node) {
    outcomes.push(
      failed(
        'node',
        `no node ${answers.node} in the cluster (found: ${nodes.map((n) => n.node).join(', ') || 'none'})`,
        'give one of the nodes listed',
      ),
    );
  } else if (!node.online) {
    outcomes.push(failed('node', `node ${answers.node} is offline`, 'bring the node back or choose another'));
  } else outcomes.push(passed('node', `${answers.node} online`));
  return outcomes;
}

async function checkPrivileges(proxmox: Proxmox, answers: SetupAnswers): Promise<CheckOutcome> {
  const title = 'privileges to deploy';
  try {
    const missing = missingPrivileges(await proxmox.access.permissions());
    if (missing.length === 0) return passed(title, 'the token may clone, configure and start VMs and allocate disks');
    const roles = REQUIRED_PRIVILEGES.map(
      ({ prefix, role }) => `pveum acl modify ${prefix} --tokens '${answers.tokenId}' --roles ${role}`,
    );
    return failed(
      title,
      `the token lacks ${missing.join(', ')}`,
      `grant them (a token with privilege separation needs its own ACLs), e.g. ${roles.join(' ; ')}`,
    );
  } catch (error) {
    return failed(
      title,
      `cannot read the token's permissions: ${reasonOf(error)}`,
      'make sure the token is valid and the node answers',
    );
  }
}

/** Reachability and TLS pin, then the token, the node and the privileges, stopping at the first wall. */
export async function checkProxmox(answers: SetupAnswers, confirm?: ConfirmTrust): Promise<ProxmoxCheckResult> {
  const reach = await pinCertificate(answers, confirm);
  const { pinned, ...first } = reach;
  if (!first.ok) return { outcomes: [first] };
  const proxmox = proxmoxOf({
    url: answers.proxmoxUrl,
    node: answers.node,
    tokenId: answers.tokenId,
    tokenSecret: answers.tokenSecret,
    tlsFingerprint: pinned,
  });
  try {
    const outcomes = [first, ...(await checkTokenAndNode(proxmox, answers))];
    if (outcomes.every((outcome) => outcome.ok)) outcomes.push(await checkPrivileges(proxmox, answers));
    return { outcomes, tlsFingerprint: pinned };
  } finally {
    proxmox.close();
  }
}
