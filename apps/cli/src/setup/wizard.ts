import { confirm, input, password } from '@inquirer/prompts';
import { SETUP_FIELDS, type SetupAnswers } from './answers';
import type { ConfirmTrust } from './proxmox-checks';

/** Asks for one section's answers, offering what is known as the default; secrets are masked, never shown. */
export async function askFields(fields: (keyof SetupAnswers)[], answers: Partial<SetupAnswers>): Promise<void> {
  for (const key of fields) {
    const field = SETUP_FIELDS.find((candidate) => candidate.key === key)!;
    const current = answers[key];
    if (field.secret) {
      const hint = current ? ' (Enter keeps the current one)' : key === 'apiKey' ? ' (Enter to skip)' : '';
      const value = await password({ message: `${field.describe}${hint}:`, mask: '*' });
      if (value) answers[key] = value;
    } else {
      answers[key] = (await input({ message: `${field.describe}:`, default: current, required: true })).trim();
    }
  }
}

/** Shows what a server presented and asks whether to pin it. */
export const confirmTrust: ConfirmTrust = (what, fingerprint) =>
  confirm({ message: `The ${what} is ${fingerprint}. Trust and pin it?`, default: true });

export const askRetry = (title: string) =>
  confirm({ message: `Change the ${title} answers and check again?`, default: true });

/**
 * Offered when no token secret is known: answers the root login (`root@host[:port]`) to make the
 * Proxmox side with, or undefined to give an existing token instead.
 */
export async function askBootstrap(answers: Partial<SetupAnswers>): Promise<string | undefined> {
  const create = await confirm({
    message: "Create Glassdome's Proxmox user, token, roles and ACLs now, over SSH as root on the node?",
    default: false,
  });
  if (!create) return undefined;
  const host = answers.proxmoxUrl ? new URL(answers.proxmoxUrl).hostname : 'pve.example';
  return (
    await input({ message: 'root SSH login on the node (root@host[:port]):', default: `root@${host}`, required: true })
  ).trim();
}
