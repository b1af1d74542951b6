import type { SetupAnswers } from './answers';
import { type CheckOutcome, failed, passed, reasonOf } from './outcome';
import { glassdomeAcls, missingPrivileges } from './privileges';
import {
  effectivePrivileges,
  listBridges,
  listNodes,
  listStorages,
  type PveTarget,
  PveTokenRefusedError,
} from './pve-probe';
import { normalizeFingerprint, presentedFingerprint } from './tls-peer';

/** Asks the operator whether to trust what a server presented; absent in non-interactive runs. */
export type ConfirmTrust = (what: string, fingerprint: string) => Promise<boolean>;

export interface ProxmoxCheckResult {
  outcomes: CheckOutcome[];
  /** The fingerprint pinned for the env file (undefined for a plain-http URL). */
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

async function checkTokenAndNode(target: PveTarget, answers: SetupAnswers): Promise<CheckOutcome[]> {
  let nodes: { node: string; online: boolean }[];
  try {
    nodes = await listNodes(target);
  } catch (error) {
    if (error instanceof PveTokenRefusedError) {
      return [
        failed(
          'API token valid',
          `Proxmox refused token ${answers.tokenId}`,
          'check the token id and secret under Datacenter → Permissions → API Tokens (the secret is shown only when the token is created), or let setup make one: --bootstrap-ssh root@<node>',
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

/** The storage and bridge as the token sees them: both lists hide what the token may not use. */
async function checkPlacement(target: PveTarget, answers: SetupAnswers): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  try {
    const storages = await listStorages(target, answers.node);
    const storage = storages.find((candidate) => candidate.storage === answers.storage);
    if (!storage) {
      outcomes.push(
        failed(
          'storage',
          `${answers.storage} is not among the storages the token sees on ${answers.node} (${storages.map((s) => s.storage).join(', ') || 'none'})`,
          `give another storage, or grant Datastore.AllocateSpace on /storage/${answers.storage}`,
        ),
      );
    } else if (!storage.content.split(',').includes('images')) {
      outcomes.push(
        failed(
          'storage',
          `${answers.storage} does not hold VM disks (content: ${storage.content || 'none'})`,
          'choose a storage whose content includes "Disk image" (images)',
        ),
      );
    } else outcomes.push(passed('storage', `${answers.storage} holds VM disks`));
    const bridges = await listBridges(target, answers.node);
    const bridge = bridges.find((candidate) => candidate.iface === answers.bridge);
    if (!bridge) {
      outcomes.push(
        failed(
          'bridge',
          `${answers.bridge} is not among the bridges the token sees on ${answers.node} (${bridges.map((b) => b.iface).join(', ') || 'none'})`,
          `give another bridge, or grant SDN.Use on /sdn/zones/localnetwork/${answers.bridge}`,
        ),
      );
    } else if (!bridge.vlanAware) {
      outcomes.push({
        ...failed(
          'bridge',
          `${answers.bridge} is not VLAN-aware: single VMs deploy, lab networks cannot`,
          `tick "VLAN aware" on ${answers.bridge} (System → Network) and apply`,
        ),
        warning: true,
      });
    } else outcomes.push(passed('bridge', `${answers.bridge} is VLAN-aware`));
  } catch (error) {
    outcomes.push(failed('storage and bridge', `cannot list them: ${reasonOf(error)}`, 'check Sys.Audit on the node'));
  }
  return outcomes;
}

async function checkPrivileges(target: PveTarget, answers: SetupAnswers): Promise<CheckOutcome> {
  const title = 'privileges to deploy';
  try {
    const missing = missingPrivileges(await effectivePrivileges(target), answers);
    if (missing.length === 0) return passed(title, 'the token may clone, configure and start VMs and allocate disks');
    const grants = glassdomeAcls(answers).map(
      ({ path, role }) => `pveum acl modify ${path} --tokens '${answers.tokenId}' --roles ${role}`,
    );
    return failed(
      title,
      `the token lacks ${missing.join(', ')}`,
      `run setup with --bootstrap-ssh root@<node> to create the roles and grant them, or grant them yourself (a token with privilege separation needs the ACLs on its user too), e.g. ${grants.join(' ; ')}`,
    );
  } catch (error) {
    return failed(
      title,
      `cannot read the token's permissions: ${reasonOf(error)}`,
      'make sure the token is valid and the node answers',
    );
  }
}

/** Reachability and TLS pin, then the token, the node, storage and bridge, and the privileges, stopping at the first wall. */
export async function checkProxmox(answers: SetupAnswers, confirm?: ConfirmTrust): Promise<ProxmoxCheckResult> {
  const reach = await pinCertificate(answers, confirm);
  const { pinned, ...first } = reach;
  if (!first.ok) return { outcomes: [first] };
  const target: PveTarget = {
    url: answers.proxmoxUrl,
    tokenId: answers.tokenId,
    tokenSecret: answers.tokenSecret,
    ...(pinned ? { tlsFingerprint: pinned } : {}),
  };
  const outcomes = [first, ...(await checkTokenAndNode(target, answers))];
  if (outcomes.every((outcome) => outcome.ok)) {
    outcomes.push(...(await checkPlacement(target, answers)), await checkPrivileges(target, answers));
  }
  return { outcomes, tlsFingerprint: pinned };
}
