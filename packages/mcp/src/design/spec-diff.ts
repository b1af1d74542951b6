/**
 * What changes between two lab specs, both as the API normalised them (defaults filled in by its dry
 * run): top-level settings, networks, VMs and rules by name, and the resource totals before and
 * after. Provisioning content and cloud-init settings may hold secrets, so their changes are named,
 * never shown.
 */
import { canonicalJson } from '../confirm';
import { type LabTotals, labTotals, type NormalisedSpec } from './spec-facts';

export interface FieldChange {
  field: string;
  from?: unknown;
  to?: unknown;
  /** Set instead of from/to for content that is not echoed (provisioning, cloud-init). */
  note?: string;
}

export interface NamedChanges {
  name: string;
  changes: FieldChange[];
}

export interface CollectionDiff<T> {
  added: T[];
  removed: T[];
  changed: NamedChanges[];
}

export interface SpecDiff {
  identical: boolean;
  settings: FieldChange[];
  networks: CollectionDiff<{ name: string; cidr?: unknown }>;
  vms: CollectionDiff<{ name: string; os?: unknown; count?: unknown }>;
  rules: { added: unknown[]; removed: unknown[] };
  totals: { from: LabTotals; to: LabTotals };
}

/** Fields whose values are not shown in a diff, only that they changed. */
const HIDDEN_FIELDS = new Set(['provision', 'cloudInit']);
const SETTINGS = ['name', 'copies', 'ttlSeconds', 'onFailure'] as const;

function same(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function fieldChanges(from: Record<string, unknown>, to: Record<string, unknown>): FieldChange[] {
  const fields = [...new Set([...Object.keys(from), ...Object.keys(to)])].filter((field) => field !== 'name').sort();
  const changes: FieldChange[] = [];
  for (const field of fields) {
    if (same(from[field], to[field])) continue;
    if (HIDDEN_FIELDS.has(field)) {
      const count = (value: unknown) => (Array.isArray(value) ? `${value.length} entries` : value ? 'set' : 'none');
      changes.push({ field, note: `changed (${count(from[field])} → ${count(to[field])}; content not shown)` });
    } else {
      changes.push({ field, from: from[field], to: to[field] });
    }
  }
  return changes;
}

function byName<T extends { name: string }>(from: readonly T[], to: readonly T[]) {
  const before = new Map(from.map((item) => [item.name, item]));
  const after = new Map(to.map((item) => [item.name, item]));
  return {
    added: to.filter((item) => !before.has(item.name)),
    removed: from.filter((item) => !after.has(item.name)),
    changed: from
      .filter((item) => after.has(item.name))
      .map((item) => ({
        name: item.name,
        changes: fieldChanges(item as Record<string, unknown>, after.get(item.name) as Record<string, unknown>),
      }))
      .filter((entry) => entry.changes.length > 0),
  };
}

export function diffLabSpecs(from: NormalisedSpec, to: NormalisedSpec): SpecDiff {
  const settings: FieldChange[] = SETTINGS.filter((field) => !same(from[field], to[field])).map((field) => ({
    field,
    from: from[field],
    to: to[field],
  }));
  const networks = byName(from.networks, to.networks);
  const vms = byName(from.vms, to.vms);
  const ruleKeys = (rules: readonly unknown[]) => new Set(rules.map(canonicalJson));
  const beforeRules = ruleKeys(from.rules ?? []);
  const afterRules = ruleKeys(to.rules ?? []);
  const rules = {
    added: (to.rules ?? []).filter((rule) => !beforeRules.has(canonicalJson(rule))),
    removed: (from.rules ?? []).filter((rule) => !afterRules.has(canonicalJson(rule))),
  };
  const counts = [settings, networks.added, networks.removed, networks.changed, vms.added, vms.removed, vms.changed];
  return {
    identical: counts.every((list) => list.length === 0) && rules.added.length === 0 && rules.removed.length === 0,
    settings,
    networks: {
      added: networks.added.map(({ name, cidr }) => ({ name, cidr })),
      removed: networks.removed.map(({ name, cidr }) => ({ name, cidr })),
      changed: networks.changed,
    },
    vms: {
      added: vms.added.map(({ name, os, count }) => ({ name, os, count: count ?? 1 })),
      removed: vms.removed.map(({ name, os, count }) => ({ name, os, count: count ?? 1 })),
      changed: vms.changed,
    },
    rules,
    totals: { from: labTotals(from), to: labTotals(to) },
  };
}
