/**
 * Watching containment after a lab is ready: each lab VM's firewall and NICs as Proxmox holds them,
 * compared by digest with what the installer applied (drift raises a critical alert whose remediation re-applies
 * the lab's policy); each lab's last isolation check (a disagreement is a critical alert); and a
 * schedule that has the installer run the check again from inside the guests.
 */
import { listLiveLabContainment, listSteps } from '@glassdome/db';
import { vmFirewallDigest, vmNicDigest } from '@glassdome/lab';
import { writeIntent } from '@glassdome/lab-run';
import { jobIntent } from '@glassdome/queue';
import type { OverseerContext } from './context';
import { dedupKeyOf, type Finding } from './findings';

export interface ContainmentScan {
  findings: Finding[];
  apiCalls: number;
}

type LiveLab = Awaited<ReturnType<typeof listLiveLabContainment>>[number];

export async function scanContainment(ctx: OverseerContext, platformId: string, now: Date): Promise<ContainmentScan> {
  const labs = await listLiveLabContainment(ctx.db, platformId);
  const findings: Finding[] = [];
  let apiCalls = 0;
  for (const lab of labs) {
    for (const vm of lab.vms) {
      if (!vm.digest) continue;
      // One unreadable VM must not cost the scan; it is compared next time.
      const [held, config] = await Promise.all([
        ctx.pve.firewall.read(vm.vmid, vm.node),
        vm.nicDigest ? ctx.pve.vms.config(vm.vmid, vm.node) : undefined,
      ]).catch((error: unknown) => {
        ctx.logger.warn({ vmid: vm.vmid, err: error }, 'firewall unreadable');
        return [undefined, undefined] as const;
      });
      apiCalls += vm.nicDigest ? 4 : 3;
      if (!held) continue;
      const digest = vmFirewallDigest(held);
      const nicDigest = config ? vmNicDigest(config.raw) : null;
      const objectsDrifted = digest !== vm.digest;
      const nicsDrifted = vm.nicDigest !== null && nicDigest !== vm.nicDigest;
      if (!objectsDrifted && !nicsDrifted) continue;
      // The installer may have begun replacing the firewall after the list was read (testing mode,
      // a restore): what was read is then half old, half new. Only a record still the one listed counts.
      if (!(await stillRecorded(ctx, vm))) continue;
      const what = [objectsDrifted ? 'firewall' : '', nicsDrifted ? 'NICs (netN: bridge, tag, firewall flag)' : '']
        .filter(Boolean)
        .join(' and ');
      const subject = `vm/${vm.id}`;
      findings.push({
        kind: 'firewall-drift',
        severity: 'critical',
        dedupKey: dedupKeyOf(platformId, 'firewall-drift', subject),
        subject,
        message: `the ${what} of ${vm.name} (copy ${vm.copy ?? 0}) of lab ${lab.name} ${objectsDrifted && nicsDrifted ? 'are' : 'is'} not what was applied for its policy`,
        data: {
          platformId,
          labId: lab.id,
          vmId: vm.id,
          vmid: vm.vmid,
          expected: vm.digest,
          found: digest,
          ...(vm.nicDigest ? { expectedNics: vm.nicDigest, foundNics: nicDigest } : {}),
        },
        remediation: { action: 'restore-firewall', vmId: vm.id, labId: lab.id, vmid: vm.vmid, node: vm.node },
      });
    }
    findings.push(...isolationFindings(platformId, lab));
    await scheduleCheck(ctx, lab, now);
  }
  return { findings, apiCalls };
}

/** Whether the VM's firewall record is still the one the scan listed (not being replaced, not replaced since). */
async function stillRecorded(ctx: OverseerContext, vm: LiveLab['vms'][number]): Promise<boolean> {
  const step = (await listSteps(ctx.db, { vmId: vm.id })).find((row) => row.name === 'firewall');
  const detail = step?.detail as { digest?: string | null; appliedAt?: string } | null | undefined;
  return detail?.digest === vm.digest && (detail?.appliedAt ?? null) === vm.appliedAt;
}

interface IsolationRecord {
  checkedAt?: string;
  agreed?: boolean;
  disagreements?: number;
}

function isolationFindings(platformId: string, lab: LiveLab): Finding[] {
  const isolation = lab.isolation as IsolationRecord | null;
  if (isolation?.agreed !== false) return [];
  const subject = `lab/${lab.id}`;
  return [
    {
      kind: 'isolation-broken',
      severity: 'critical',
      dedupKey: dedupKeyOf(platformId, 'isolation-broken', subject),
      subject,
      message: `lab ${lab.name}: ${isolation.disagreements ?? 'some'} isolation probe(s) disagree with its policy (checked ${isolation.checkedAt})`,
      data: { platformId, labId: lab.id, checkedAt: isolation.checkedAt ?? null },
    },
  ];
}

/** Asks the installer for a new isolation check once the last one is older than the period (one job per period). */
async function scheduleCheck(ctx: OverseerContext, lab: LiveLab, now: Date): Promise<void> {
  const checkedAt = Date.parse((lab.isolation as IsolationRecord | null)?.checkedAt ?? '') || 0;
  if (now.getTime() - checkedAt < ctx.settings.isolationSeconds * 1000) return;
  const period = Math.floor(now.getTime() / (ctx.settings.isolationSeconds * 1000));
  await writeIntent(ctx.db, jobIntent('lab.verify', { labId: lab.id }, `lab-verify.${lab.id}.${period}`));
  await ctx.relay.flush().catch(() => {});
}
