/**
 * A VM's Proxmox firewall (`/nodes/{node}/qemu/{vmid}/firewall/…`): options, rules and IPSets, read
 * back as PVE returns them and replaced as a whole. Rules are evaluated top-down; PVE inserts each
 * created rule at position 0, so a list is written from its last rule to its first.
 */
import type { ProxmoxClient } from './client';
import type { Params, ParamValue } from './encoding';

export interface FirewallRuleInput {
  type: 'in' | 'out' | 'group';
  action: string;
  enable?: 0 | 1;
  iface?: string;
  source?: string;
  dest?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  comment?: string;
}

export interface FirewallIpsetInput {
  name: string;
  comment?: string;
  entries: readonly { cidr: string; nomatch?: 0 | 1; comment?: string }[];
}

/** What one VM's firewall holds, as written. */
export interface VmFirewallInput {
  options: Readonly<Record<string, ParamValue>>;
  ipsets: readonly FirewallIpsetInput[];
  rules: readonly FirewallRuleInput[];
}

/** What one VM's firewall holds, as read back. */
export interface VmFirewallState {
  options: Record<string, unknown>;
  ipsets: { name: string; entries: { cidr: string; nomatch?: unknown }[] }[];
  rules: Record<string, unknown>[];
}

export class FirewallApi {
  constructor(private readonly client: ProxmoxClient) {}

  #base(vmid: number, node?: string): string {
    return `/nodes/${node ?? this.client.node}/qemu/${vmid}/firewall`;
  }

  async read(vmid: number, node?: string): Promise<VmFirewallState> {
    const [options, objects] = await Promise.all([
      this.client.get<Record<string, unknown>>(`${this.#base(vmid, node)}/options`),
      this.#objects(vmid, node),
    ]);
    return { options, ...objects };
  }

  /** The VM's rules (in order) and IPSets with their entries. */
  async #objects(vmid: number, node?: string): Promise<Omit<VmFirewallState, 'options'>> {
    const base = this.#base(vmid, node);
    const [rules, sets] = await Promise.all([
      this.client.get<Record<string, unknown>[]>(`${base}/rules`),
      this.client.get<{ name: string }[]>(`${base}/ipset`),
    ]);
    const ipsets = await Promise.all(
      sets.map(async (set) => ({
        name: set.name,
        entries: await this.client.get<{ cidr: string; nomatch?: unknown }[]>(
          `${base}/ipset/${encodeURIComponent(set.name)}`,
        ),
      })),
    );
    return { rules: [...rules].sort((a, b) => Number(a.pos) - Number(b.pos)), ipsets };
  }

  /**
   * Makes the VM's firewall exactly `wanted`: every existing rule and IPSet removed, the IPSets then
   * the rules created (rules last-to-first, so they end in order), the options set last — so the
   * firewall is switched on only once what it should enforce is in place. The options are not read:
   * they are set, not removed (a clone carries its template's firewall, options included).
   */
  async replace(vmid: number, wanted: VmFirewallInput, node?: string): Promise<void> {
    const base = this.#base(vmid, node);
    // What is there is read by name only: a set goes with its entries in one call (`force=1`, which
    // PVE requires to delete a non-empty IPSet), so its entries need neither reading nor deleting one
    // by one. Rules go first, so no rule is left naming a set already gone.
    const [rules, sets] = await Promise.all([
      this.client.get<Record<string, unknown>[]>(`${base}/rules`),
      this.client.get<{ name: string }[]>(`${base}/ipset`),
    ]);
    const positions = rules.map((rule) => Number(rule.pos)).sort((a, b) => b - a);
    for (const pos of positions) await this.client.delete(`${base}/rules/${pos}`);
    for (const set of sets) {
      await this.client.delete(`${base}/ipset/${encodeURIComponent(set.name)}`, { force: 1 });
    }
    for (const set of wanted.ipsets) {
      await this.client.post(`${base}/ipset`, { name: set.name, comment: set.comment });
      for (const entry of set.entries) {
        await this.client.post(`${base}/ipset/${encodeURIComponent(set.name)}`, { ...entry } as Params);
      }
    }
    for (const rule of [...wanted.rules].reverse()) {
      await this.client.post(`${base}/rules`, { ...rule } as Params);
    }
    await this.client.put(`${base}/options`, { ...wanted.options });
  }
}
