import type { PortProtocol, PortRange, PortSpec } from '../spec/policy';
import { PVE_DPORT_MAX_NUMBERS } from './limits';

/** What a rule's ports open, one PVE rule's worth at a time. */
export type PortMatch = { proto: PortProtocol; dport: string } | { proto: 'icmp' };

/** Sorts ranges and merges those that overlap or touch, so `80, 81, 80-90` becomes `80:90`. */
function mergeRanges(ranges: PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.to - b.to);
  const merged: PortRange[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last && range.from <= last.to + 1) last.to = Math.max(last.to, range.to);
    else merged.push({ ...range });
  }
  return merged;
}

/**
 * A rule's ports as PVE matches: per protocol, the merged port ranges as `dport` lists of at most
 * 15 numbers each (a range counts two), and ICMP (all types) once if listed. TCP first, then UDP,
 * then ICMP, so the result does not depend on how the spec ordered them.
 */
export function portMatches(ports: readonly PortSpec[]): PortMatch[] {
  const matches: PortMatch[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    const ranges = mergeRanges(
      ports.flatMap((spec) => (spec.proto === proto ? [{ from: spec.from, to: spec.to }] : [])),
    );
    let items: string[] = [];
    let numbers = 0;
    for (const range of ranges) {
      const weight = range.from === range.to ? 1 : 2;
      if (numbers + weight > PVE_DPORT_MAX_NUMBERS) {
        matches.push({ proto, dport: items.join(',') });
        items = [];
        numbers = 0;
      }
      items.push(range.from === range.to ? `${range.from}` : `${range.from}:${range.to}`);
      numbers += weight;
    }
    if (items.length > 0) matches.push({ proto, dport: items.join(',') });
  }
  if (ports.some((spec) => spec.proto === 'icmp')) matches.push({ proto: 'icmp' });
  return matches;
}
