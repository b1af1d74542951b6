/** Faults an operator or test switches on at run time through the admin endpoint. */
import { z } from 'zod';
import type { SeededRandom } from './random';

export const faultsSchema = z.object({
  /** Share of API requests answered `500 Internal Server Error`. @defaultValue 0 */
  rate500: z.number().min(0).max(1).default(0),
  /** Share of API requests answered `595 Connection refused` (a failed pveproxy→pvedaemon hop). @defaultValue 0 */
  rate595: z.number().min(0).max(1).default(0),
  /** Multiplier on every task's work time. @defaultValue 1 */
  slowTaskFactor: z.number().positive().default(1),
  /** Tasks of `type` (e.g. `qmclone`, or `*`) fail after starting: each with probability `rate`, or the next `count` ones. */
  failTasks: z
    .object({ type: z.string(), rate: z.number().min(0).max(1).optional(), count: z.number().int().min(0).optional() })
    .nullable()
    .default(null),
  /** The guest agent of this VM (or of every VM) never answers. @defaultValue null */
  agentNeverUp: z
    .union([z.number().int(), z.literal('all')])
    .nullable()
    .default(null),
  /**
   * The SSH server at this VM's (or every VM's) address presents a host key other than the one on
   * the guest's disk, as another machine answering there would; the agent still reads the disk's
   * key file. Listening guests switch at once. @defaultValue null
   */
  impostorHostKey: z
    .union([z.number().int(), z.literal('all')])
    .nullable()
    .default(null),
  /** This node is unreachable: its API paths answer 595 and it shows offline. @defaultValue null */
  nodeOffline: z.string().nullable().default(null),
});

export type Faults = z.infer<typeof faultsSchema>;

export const noFaults = (): Faults => faultsSchema.parse({});

/** Decides, per request or task, whether an injected fault applies. */
export class FaultInjector {
  faults: Faults = noFaults();

  constructor(private readonly random: SeededRandom) {}

  /** Merges a partial update into the active faults (unknown keys are rejected by the schema). */
  update(partial: unknown): Faults {
    this.faults = faultsSchema.parse({ ...this.faults, ...(partial as object) });
    return this.faults;
  }

  reset(): void {
    this.faults = noFaults();
  }

  /** The status an API request should fail with, if any. */
  requestFault(): { status: number; message: string } | undefined {
    if (this.random.chance(this.faults.rate500)) return { status: 500, message: 'Internal Server Error' };
    if (this.random.chance(this.faults.rate595)) return { status: 595, message: 'Connection refused' };
    return undefined;
  }

  taskShouldFail(type: string): boolean {
    const rule = this.faults.failTasks;
    if (!rule || (rule.type !== '*' && rule.type !== type)) return false;
    if (rule.count !== undefined) {
      if (rule.count <= 0) return false;
      rule.count--;
      return true;
    }
    return this.random.chance(rule.rate ?? 1);
  }

  agentBlocked(vmid: number): boolean {
    return this.faults.agentNeverUp === 'all' || this.faults.agentNeverUp === vmid;
  }

  impostorAt(vmid: number): boolean {
    return this.faults.impostorHostKey === 'all' || this.faults.impostorHostKey === vmid;
  }

  nodeIsOffline(node: string): boolean {
    return this.faults.nodeOffline === node;
  }
}
