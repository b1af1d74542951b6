import type { Protocol } from '../spec/policy';
import type { ProbeReason } from './expectations';

/**
 * One check the prober runs from inside a guest of copy `c`. `expected: 'reach'` means the packet
 * gets to the destination's own network stack: for TCP an answer of either kind (accepted or
 * refused) counts, since a refusal means the firewall let it through; `blocked` means no answer.
 */
export interface ReachabilityProbe {
  /** Stable and unique within a matrix, e.g. `attacker>target@10.10.0.10/tcp:80`. */
  key: string;
  /** The VM instance the probe runs on. */
  fromVm: string;
  /** The VM aimed at; null for an address outside the lab. */
  toVm: string | null;
  /** `other`: `toVm` of another copy (the prober picks one, e.g. c+1 mod copies). */
  toCopy: 'same' | 'other';
  /** What `toAddress` is: a lab address, `toVm`'s management address, or an outside address. */
  target: 'lab' | 'management' | 'outside';
  /** The lab network `toAddress` is on; null unless `target` is `lab`. */
  toNetwork: string | null;
  /**
   * The address to aim at; null for `management`, which only the prober knows. For `lab` with
   * `toCopy: 'other'`, the same address also exists in the source's own copy and may answer there:
   * the probe passes only if the other copy's VM receives nothing.
   */
  toAddress: string | null;
  proto: Protocol;
  /** Destination port; null for ICMP (an echo request). */
  port: number | null;
  expected: 'reach' | 'blocked';
  why: ProbeReason;
}

/** A probe's key: who, to whom and where, and what. */
export function probeKey(probe: Omit<ReachabilityProbe, 'key' | 'expected' | 'why'>): string {
  const to = `${probe.toCopy === 'other' ? 'other:' : ''}${probe.toVm ?? 'outside'}`;
  const where = probe.toAddress ?? probe.target;
  return `${probe.fromVm}>${to}@${where}/${probe.proto}${probe.port === null ? '' : `:${probe.port}`}`;
}
