import type { SetupAnswers } from './answers';
import { bootstrapProxmox } from './bootstrap';
import type { CheckOutcome } from './outcome';
import { type ConfirmTrust, checkProxmox } from './proxmox-checks';
import { checkApi, checkPostgres, checkRedisUrl } from './service-checks';
import { checkSsh, nodeRunner } from './ssh-checks';

/** A group of answers checked together, so the wizard can ask again for just that group. */
export interface SetupSection {
  title: string;
  fields: (keyof SetupAnswers)[];
  check(
    answers: SetupAnswers,
    confirm?: ConfirmTrust,
  ): Promise<{ outcomes: CheckOutcome[]; learned?: Partial<SetupAnswers> }>;
}

const proxmoxFields: (keyof SetupAnswers)[] = ['proxmoxUrl', 'node', 'storage', 'bridge'];

const proxmoxApi = (fields: (keyof SetupAnswers)[]): SetupSection => ({
  title: 'Proxmox API',
  fields,
  async check(answers, confirm) {
    const result = await checkProxmox(answers, confirm);
    return { outcomes: result.outcomes, learned: { tlsFingerprint: result.tlsFingerprint } };
  },
});

const nodeSsh: SetupSection = {
  title: 'SSH to the node (gateway)',
  fields: ['sshHost', 'sshUser', 'sshKeyFile'],
  async check(answers, confirm) {
    const result = await checkSsh(answers, confirm);
    return { outcomes: result.outcomes, learned: { sshHostKey: result.sshHostKey } };
  },
};

/** Logs in as root (the gateway's own login), pins the host key, then makes user, token, roles and ACLs. */
const bootstrap = (replaceToken: boolean): SetupSection => ({
  title: 'Proxmox side, made over SSH as root (bootstrap)',
  fields: [...proxmoxFields, 'sshHost', 'sshUser', 'sshKeyFile', 'tokenId'],
  async check(answers, confirm) {
    const ssh = await checkSsh(answers, confirm);
    if (!ssh.sshHostKey || ssh.outcomes.some((outcome) => !outcome.ok)) return { outcomes: ssh.outcomes };
    const node = await nodeRunner(answers, ssh.sshHostKey);
    try {
      const result = await bootstrapProxmox(node.run, answers, { replaceToken });
      return {
        outcomes: [...ssh.outcomes, ...result.outcomes],
        learned: { sshHostKey: ssh.sshHostKey, ...result.learned },
      };
    } finally {
      node.close();
    }
  },
});

const services: SetupSection[] = [
  {
    title: 'Redis',
    fields: ['redisUrl', 'queuePrefix'],
    check: async (answers) => ({ outcomes: [await checkRedisUrl(answers)] }),
  },
  {
    title: 'Postgres',
    fields: ['databaseUrl'],
    check: async (answers) => ({ outcomes: [await checkPostgres(answers)] }),
  },
  {
    title: 'Glassdome API',
    fields: ['apiUrl', 'apiKey'],
    check: async (answers) => ({ outcomes: [await checkApi(answers)] }),
  },
];

/**
 * The sections in the order they are asked and checked. Bootstrapping checks Redis, Postgres and the
 * API first, so that the token (whose secret Proxmox shows once) is made only when setup can then
 * write it; it is checked through the API right after, asking nothing more for it.
 */
export function setupSections(options: { bootstrap?: boolean; replaceToken?: boolean } = {}): SetupSection[] {
  if (options.bootstrap) return [...services, bootstrap(options.replaceToken ?? false), proxmoxApi([])];
  return [proxmoxApi([...proxmoxFields, 'tokenId', 'tokenSecret']), nodeSsh, ...services];
}

/** Outcomes that stop setup (warnings do not). */
export function blocking(outcomes: readonly CheckOutcome[]): CheckOutcome[] {
  return outcomes.filter((outcome) => !outcome.ok && !outcome.warning);
}
