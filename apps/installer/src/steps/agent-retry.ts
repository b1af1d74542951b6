/**
 * When a repeat of `wait-agent` reboots the VM first. A guest whose agent did not answer will not
 * start it by itself once booted, so a reboot is the repair; but only when that was what failed: the
 * step also fails (or is cut short) because Postgres or Redis went away, the job timed out or was
 * handed back, or the installer died, and rebooting a healthy VM for those is harm, not repair.
 */
import { DeadlineExceededError } from '@glassdome/proxmox';

/** How the step's recorded error begins when the guest agent itself never answered. */
const AGENT_SILENT = 'guest agent did not answer';

/** The guest agent did not report an address within the step's bound. */
export class AgentSilentError extends Error {
  constructor(vmid: number, detail: string) {
    super(`${AGENT_SILENT} for VM ${vmid}: ${detail}`);
    this.name = 'AgentSilentError';
  }
}

/** True only when the previous attempt of the step failed because the agent never answered. */
export function rebootBeforeAgentWait(previousError: string | null | undefined): boolean {
  return previousError?.startsWith(AGENT_SILENT) ?? false;
}

/** Runs the agent wait; its deadline passing becomes AgentSilentError (what a repeat reboots for). */
export async function agentAnswer<T>(vmid: number, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    if (error instanceof DeadlineExceededError) throw new AgentSilentError(vmid, error.message);
    throw error;
  }
}
