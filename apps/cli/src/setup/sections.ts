import type { SetupAnswers } from './answers';
import type { CheckOutcome } from './outcome';
import { type ConfirmTrust, checkProxmox } from './proxmox-checks';
import { checkApi, checkPostgres, checkRedisUrl } from './service-checks';
import { checkSsh } from './ssh-checks';

/** A group of answers checked together, so the wizard can ask again for just that group. */
export interface SetupSection {
  title: string;
  fields: (keyof SetupAnswers)[];
  check(
    answers: SetupAnswers,
    confirm?: ConfirmTrust,
  ): Promise<{ outcomes: CheckOutcome[]; learned?: Partial<SetupAnswers> }>;
}

export const SETUP_SECTIONS: SetupSection[] = [
  {
    title: 'Proxmox API',
    fields: ['proxmoxUrl', 'node', 'storage', 'bridge', 'tokenId', 'tokenSecret'],
    async check(answers, confirm) {
      const result = await checkProxmox(answers, confirm);
      return { outcomes: result.outcomes, learned: { tlsFingerprint: result.tlsFingerprint } };
    },
  },
  {
    title: 'SSH to the node (gateway)',
    fields: ['sshHost', 'sshUser', 'sshKeyFile'],
    async check(answers, confirm) {
      const result = await checkSsh(answers, confirm);
      return { outcomes: result.outcomes, learned: { sshHostKey: result.sshHostKey } };
    },
  },
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

/** Outcomes that stop setup (warnings do not). */
export function blocking(outcomes: readonly CheckOutcome[]): CheckOutcome[] {
  return outcomes.filter((outcome) => !outcome.ok && !outcome.warning);
}
