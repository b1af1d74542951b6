import { isIPv4 } from 'node:net';
import type { ProxmoxClient } from './client';
import { DeadlineExceededError, TransientError, VmNotRunningError } from './errors';
import { toNumber } from './normalize';
import { pollUntil } from './poll';

export interface GuestAddress {
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
}

export interface GuestInterface {
  name: string;
  /** Lowercase, as the agent reports it. */
  mac: string | undefined;
  addresses: GuestAddress[];
}

export interface AgentIp {
  /** The first global-unicast IPv4 address of a non-loopback interface. */
  ip: string;
  interfaces: GuestInterface[];
}

export interface WaitForAgentIpOptions {
  /**
   * How long the guest may take to boot and report an address.
   * @defaultValue 300000
   */
  deadlineMs?: number;
  /**
   * First wait between polls (growing from there); the client's polling policy otherwise.
   * @defaultValue the client's `polling.initialMs`
   */
  pollMs?: number;
  node?: string;
  /**
   * Only the interface with this MAC address counts (e.g. the management NIC of a VM on several
   * networks): its address is the one reported. Case-insensitive.
   */
  mac?: string;
  /**
   * When the guest was started (ms since the epoch: the answer to its start or reboot request). The
   * looks are then timed, and learned, from that moment: how long the caller took to see the start
   * task done and to begin this wait (tens to hundreds of ms, more in a fresh process than a warm
   * one) no longer moves when the agent is due. Such waits learn apart from those without it.
   */
  since?: number;
}

/** Link-local, unspecified, multicast and broadcast addresses cannot be used to reach the guest. */
export function isGlobalUnicastIPv4(address: string): boolean {
  if (!isIPv4(address)) return false;
  const [a = 0, b = 0] = address.split('.').map(Number);
  if (a === 0 || a >= 224) return false;
  return !(a === 169 && b === 254);
}

/** Loopback interfaces, whatever the guest names them. */
const loopbackInterface = /^lo\d*$/;

/**
 * The first usable IPv4 of a non-loopback interface. Loopback is judged by interface, not by 127/8
 * alone: the simulator gives its guests 127.64.x.y on their ethernet interface so that the host can
 * reach them, and a real guest never carries 127/8 outside `lo`.
 */
export function firstGlobalIPv4(interfaces: readonly GuestInterface[]): string | undefined {
  for (const nic of interfaces) {
    if (loopbackInterface.test(nic.name)) continue;
    const found = nic.addresses.find(
      (entry) => entry.family === 'ipv4' && isGlobalUnicastIPv4(entry.address) && !entry.address.startsWith('127.0.0.'),
    );
    if (found) return found.address;
  }
  return undefined;
}

/** Guest agent calls (`…/qemu/{vmid}/agent/…`). */
export class AgentApi {
  constructor(private readonly client: ProxmoxClient) {}

  /** One try: the agent is expected to be unready for a while, and waitForIp does the polling. */
  async interfaces(vmid: number, node = this.client.node): Promise<GuestInterface[]> {
    const raw = await this.client.get<{ result?: Record<string, unknown>[] }>(
      `/nodes/${node}/qemu/${vmid}/agent/network-get-interfaces`,
      undefined,
      { retry: false },
    );
    return (raw.result ?? []).map((nic) => ({
      name: String(nic.name ?? ''),
      mac: typeof nic['hardware-address'] === 'string' ? nic['hardware-address'].toLowerCase() : undefined,
      addresses: ((nic['ip-addresses'] ?? []) as Record<string, unknown>[]).map((entry) => ({
        family: entry['ip-address-type'] === 'ipv6' ? 'ipv6' : 'ipv4',
        address: String(entry['ip-address']),
        prefix: toNumber(entry.prefix),
      })),
    }));
  }

  /**
   * A file of the guest, read by its agent (`file-read`, VM.Monitor on the VM). PVE answers with the
   * file's bytes already decoded from the agent's base64, one character per byte, and at most 16 MiB
   * of them (`truncated` set when there was more). One try, like `interfaces`.
   */
  async readFile(
    vmid: number,
    file: string,
    node = this.client.node,
  ): Promise<{ content: Buffer; truncated: boolean }> {
    const raw = await this.client.get<{ content?: string; truncated?: unknown }>(
      `/nodes/${node}/qemu/${vmid}/agent/file-read`,
      { file },
      { retry: false },
    );
    return { content: Buffer.from(raw.content ?? '', 'latin1'), truncated: toNumber(raw.truncated) === 1 };
  }

  /**
   * Waits until the guest agent reports a global-unicast IPv4 address. Every "not yet" answer (agent not
   * running, VM not running yet, QMP `got timeout`, other transient errors, no address leased yet) is
   * waited out until the deadline; a VM without an agent configured fails at once.
   */
  async waitForIp(vmid: number, options: WaitForAgentIpOptions = {}): Promise<AgentIp> {
    const deadlineMs = options.deadlineMs ?? 300_000;
    const polling = { ...this.client.polling, ...(options.pollMs ? { initialMs: options.pollMs } : {}) };
    let lastReason = 'no answer yet';
    try {
      return await pollUntil(
        async () => {
          try {
            const interfaces = await this.interfaces(vmid, options.node);
            const mac = options.mac?.toLowerCase();
            const ip = firstGlobalIPv4(mac ? interfaces.filter((nic) => nic.mac === mac) : interfaces);
            lastReason = options.mac ? `no global IPv4 address on ${options.mac} yet` : 'no global IPv4 address yet';
            return ip ? { ip, interfaces } : undefined;
          } catch (error) {
            if (!(error instanceof TransientError || error instanceof VmNotRunningError)) throw error;
            lastReason = error.pveMessage ?? error.message;
            return undefined;
          }
        },
        {
          what: `guest agent IP of VM ${vmid}`,
          deadlineMs,
          polling,
          signal: this.client.signal,
          // A guest just started answers after about as long as the node's guests took lately; a look
          // before its agent runs costs the ping's 3 s, so the looks come just after the learned time
          // and only a few waits try earlier ones (see CostlyLooks in poll.ts).
          learned: {
            looks: this.client.firstLooks,
            kind: `agent ${options.node ?? this.client.node}${options.since === undefined ? '' : ' from start'}`,
            costlyMiss: true,
            ...(options.since === undefined ? {} : { since: options.since }),
          },
        },
      );
    } catch (error) {
      if (!(error instanceof DeadlineExceededError)) throw error;
      throw new DeadlineExceededError(`${error.message} (last: ${lastReason})`);
    }
  }
}
