/**
 * The isolation check: before a lab is `ready`, the reachability matrix its spec implies
 * (`reachabilityMatrix`) is run from inside the guests, in every copy: each probe is a real packet
 * sent by the source guest over its own networks (`nc -z` for TCP, `ping` for ICMP), so it meets the
 * Proxmox firewall exactly as a trainee's traffic would. Probing starts once pve-firewall has compiled
 * the latest rules (its nodes say so, or FIREWALL_APPLY_SECONDS after the last write); probes that
 * disagree are run again until they agree or ISOLATION_CHECK_SECONDS pass; then the result is
 * recorded on the lab, and a disagreement fails the task naming the pairs.
 *
 * A deploy runs it per copy (the graph's `c{n}:isolation`, as soon as that copy is configured and
 * the copy its cross-copy probes aim at is provisioned); the overseer's re-check and a revert run
 * it over every copy. Either way the lab keeps one record: the copies just checked replace their
 * own pairs in it and keep the others' (`checkedAt` the latest check, `agreed` over every pair).
 *
 * Copies reuse addresses, so a probe at another copy's lab address cannot tell by its answer which
 * copy answered; those probes are settled by the segments instead (the two copies' networks must be
 * different VNets or tags), while probes at the other copy's management address are real packets.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import {
  appendEvent,
  type Db,
  inTransaction,
  type JsonValue,
  listVmsOfLab,
  lockLabIsolation,
  setLabIsolation,
} from '@glassdome/db';
import { networkTaskId, type ReachabilityProbe, reachabilityMatrix } from '@glassdome/lab';
import { type LabRecord, loadLabSpec, taskDetail } from '@glassdome/lab-run';
import { PermanentError, waitForJobEnd } from '@glassdome/queue';
import { quoteArgv, type SshTarget } from '@glassdome/ssh';
import type { InstallerContext } from '../context';
import { lastFirewallWrite } from '../steps/firewall';
import { guestTarget, onGuest, readPins } from '../steps/guest-trust';
import { type VmRow, vmRecordOf } from '../vm-record';

export interface IsolationPair {
  copy: number;
  from: string;
  to: string;
  address: string | null;
  proto: string;
  port: number | null;
  expected: 'reach' | 'blocked';
  observed: 'reach' | 'blocked' | 'not probed';
  why: string;
  /** How it was observed: a packet from the guest, or the copies' segments. */
  method: 'packet' | 'segment' | 'none';
}

export interface IsolationResult {
  checkedAt: string;
  agreed: boolean;
  probes: number;
  disagreements: number;
  pairs: IsolationPair[];
}

/** Where the check's egress probes aim (on the simulator: its simulated outside). */
const OUTSIDE = [{ address: '203.0.113.10', proto: 'tcp' as const, port: 80 }];

interface Planned {
  probe: ReachabilityProbe;
  copy: number;
  source: VmRow;
  address: string | null;
  method: IsolationPair['method'];
  observed?: IsolationPair['observed'];
}

export interface IsolationScope {
  /** The copies whose guests send the probes; every copy when absent. */
  copies?: readonly number[];
}

export async function runIsolationCheck(
  ctx: InstallerContext,
  lab: LabRecord,
  signal: AbortSignal,
  scope: IsolationScope = {},
): Promise<JsonValue> {
  const spec = await loadLabSpec(ctx.db, lab.id);
  const probes = reachabilityMatrix(spec, { outside: OUTSIDE, sshPort: ctx.env.GUEST_SSH_PORT });
  const copies = spec.copies;
  const checked = [...new Set(scope.copies ?? Array.from({ length: copies }, (_, copy) => copy))].sort((a, b) => a - b);
  // The probing copies' VMs and those of the copies their cross-copy probes aim at.
  const wanted = new Set(checked.flatMap((copy) => [copy, (copy + 1) % copies]));
  const vms = new Map<string, VmRow>();
  for (const row of await listVmsOfLab(ctx.db, lab.id)) {
    if (wanted.has(row.copy ?? 0)) vms.set(`${row.copy ?? 0}/${row.name}`, vmRecordOf(row));
  }
  const planned: Planned[] = [];
  for (const copy of checked) {
    const other = (copy + 1) % copies;
    for (const probe of probes) {
      const source = vms.get(`${copy}/${probe.fromVm}`);
      if (source?.status !== 'ready' || !source.ip) continue;
      if (probe.toCopy === 'other' && copies < 2) continue;
      const targetCopy = probe.toCopy === 'other' ? other : copy;
      if (probe.toCopy === 'other' && probe.target === 'lab') {
        planned.push({ probe, copy, source, address: probe.toAddress, method: 'segment' });
        continue;
      }
      const address =
        probe.target === 'management' ? (vms.get(`${targetCopy}/${probe.toVm}`)?.ip ?? null) : probe.toAddress;
      const method = probe.proto === 'udp' || !address ? 'none' : 'packet';
      planned.push({ probe, copy, source, address, method });
    }
  }
  for (const item of planned.filter((p) => p.method === 'segment')) {
    item.observed = (await sameSegment(ctx, lab.id, item)) ? 'reach' : 'blocked';
  }
  for (const item of planned.filter((p) => p.method === 'none')) item.observed = 'not probed';

  const began = Date.now();
  await firewallCompiled(ctx, [...vms.values()], signal);
  const probingFrom = Date.now();
  const deadline = probingFrom + ctx.env.ISOLATION_CHECK_SECONDS * 1000;
  let pending = planned.filter((p) => p.method === 'packet');
  let waitedForSlotsMs = 0;
  for (;;) {
    signal.throwIfAborted();
    waitedForSlotsMs += await probeAll(ctx, pending, signal);
    pending = pending.filter((p) => p.observed !== p.probe.expected);
    if (pending.length === 0 || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  // Where the check's time went, for the timeline of a deploy (the class bench reads it).
  const timing = {
    firewallWaitMs: probingFrom - began,
    waitedForSlotsMs,
    probingMs: Date.now() - probingFrom,
  };

  const pairs = planned.map(pairOf);
  const wrong = pairs.filter(disagrees);
  const whole = checked.length === copies;
  const checkedAt = new Date().toISOString();
  await recordIsolation(ctx.db, lab.id, checked, pairs, checkedAt);
  const summary = `${pairs.length - wrong.length} of ${pairs.length} probes as the policy says`;
  await appendEvent(ctx.db, {
    labId: lab.id,
    kind: wrong.length === 0 ? 'lab.isolation.agreed' : 'lab.isolation.disagreed',
    message: `isolation check${whole ? '' : ` of copy ${checked.join(', ')}`}: ${summary}`,
    // The result itself for the event stream: when, and every pair checked (past 1000, the disagreeing ones).
    data: {
      checkedAt,
      agreed: wrong.length === 0,
      probes: pairs.length,
      disagreements: wrong.length,
      copies: checked,
      timing,
      pairs: (pairs.length <= 1000 ? pairs : wrong) as unknown as JsonValue,
    },
  });
  if (wrong.length > 0) {
    const named = wrong.slice(0, 8).map(describe).join('; ');
    throw new PermanentError(`isolation check disagreed on ${wrong.length} probe(s): ${named}`);
  }
  return { probes: pairs.length, agreed: true };
}

function disagrees(pair: IsolationPair): boolean {
  return pair.observed !== 'not probed' && pair.observed !== pair.expected;
}

/**
 * Merges a check of `copies` into the lab's one record, under the lab's row lock (copies finish their
 * checks at the same time): their pairs replace those of the same copies, the other copies' pairs
 * stay, `checkedAt` is the latest check and `agreed` holds only if no pair of any copy disagrees.
 */
async function recordIsolation(
  db: Db,
  labId: string,
  copies: readonly number[],
  pairs: IsolationPair[],
  checkedAt: string,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const row = await lockLabIsolation(trx, labId);
    const before = (row?.isolation ?? null) as Partial<IsolationResult> | null;
    const kept = Array.isArray(before?.pairs) ? before.pairs.filter((pair) => !copies.includes(pair.copy)) : [];
    const merged = [...kept, ...pairs].sort((a, b) => a.copy - b.copy);
    const latest = typeof before?.checkedAt === 'string' && before.checkedAt > checkedAt ? before.checkedAt : checkedAt;
    const wrong = merged.filter(disagrees).length;
    const result: IsolationResult = {
      checkedAt: latest,
      agreed: wrong === 0,
      probes: merged.length,
      disagreements: wrong,
      pairs: merged,
    };
    await setLabIsolation(trx, labId, result as unknown as JsonValue);
  });
}

function pairOf(item: Planned): IsolationPair {
  return {
    copy: item.copy,
    from: item.probe.fromVm,
    to: `${item.probe.toCopy === 'other' ? 'other copy: ' : ''}${item.probe.toVm ?? 'outside'}`,
    address: item.address,
    proto: item.probe.proto,
    port: item.probe.port,
    expected: item.probe.expected,
    observed: item.observed ?? 'not probed',
    why: item.probe.why,
    method: item.method,
  };
}

function describe(pair: IsolationPair): string {
  const port = pair.port === null ? pair.proto : `${pair.proto}/${pair.port}`;
  return `copy ${pair.copy} ${pair.from} → ${pair.to} ${pair.address ?? ''} ${port}: expected ${pair.expected}, observed ${pair.observed}`;
}

/**
 * Source guests this process probes from at once, over all of its checks: each is an SSH session, and
 * a class's copies finish (and check) close together, so without a bound their handshakes crowd out
 * each other and the deploys still running (240 at once timed out at load 26). A guest's probes run
 * side by side on the connection its deploy left open (one timeout, a few channels), so a slot is
 * held briefly. A class's last copies start their last VMs close together, so their waits for the
 * firewall's compile end together and they all probe at once: sixty-four slots hold their guests
 * (with sixteen the last checks queued for slots and ended about a second later; with thirty-two,
 * once checks stopped waiting out a whole firewall period, they still queued up to 2.4 s).
 */
const PROBING_AT_ONCE = 64;
let probing = 0;
const waitingToProbe: (() => void)[] = [];

/** Runs `work` holding one of the process's probing slots (first come, first served). */
async function withProbeSlot<T>(work: () => Promise<T>): Promise<T> {
  if (probing < PROBING_AT_ONCE) probing++;
  else await new Promise<void>((resolve) => waitingToProbe.push(resolve));
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, if any.
    const next = waitingToProbe.shift();
    if (next) next();
    else probing--;
  }
}

/**
 * Runs the probes, a source guest's side by side in one command (a blocked probe waits out its
 * timeout: one after another, a guest's few probes would wait for each other's), as many guests at
 * once as the process has probing slots; returns how long the last guest waited for its slot.
 */
async function probeAll(ctx: InstallerContext, items: Planned[], signal: AbortSignal): Promise<number> {
  const bySource = new Map<string, Planned[]>();
  for (const item of items) bySource.set(item.source.id, [...(bySource.get(item.source.id) ?? []), item]);
  // Every source's pinned host key in one statement, not one per guest as it logs in.
  await readPins(
    ctx,
    [...bySource.values()].map((batch) => batch[0]!.source),
  );
  const asked = Date.now();
  let waited = 0;
  await Promise.all(
    [...bySource.values()].map((batch) =>
      withProbeSlot(async () => {
        waited = Math.max(waited, Date.now() - asked);
        // A check stopped meanwhile (its lab stopped, the job ended) sends nothing more.
        signal.throwIfAborted();
        const source = batch[0]!.source;
        const target = await guestTarget(ctx, source);
        const observed = await probeFrom(ctx, target, batch);
        for (const [index, item] of batch.entries()) item.observed = observed[index]!;
      }),
    ),
  );
  return waited;
}

/** The packet a probe sends: `nc -z` for TCP (a refusal counts as reaching), one `ping` for ICMP. */
function probeArgv(item: Planned): string[] {
  return item.probe.proto === 'icmp'
    ? ['ping', '-c', '1', '-W', '2', item.address!]
    : ['nc', '-z', '-v', '-w', '2', item.address!, String(item.probe.port)];
}

/** Starts each answer line of the batched command: `gd-probe <index> <0 if the probe's command succeeded, else 1> <its output>`. */
const ANSWER = 'gd-probe';
/** Where each answer begins in the command's output (an answer's output may span lines). */
const ANSWER_START = new RegExp(`^(?=${ANSWER} \\d+ [01] )`, 'm');
/** One answer: its probe's index, status and output. */
const ANSWER_FIELDS = new RegExp(`^${ANSWER} (\\d+) ([01]) ([\\s\\S]*)$`);

/**
 * One source guest's probes in one SSH command: each runs as an asynchronous list of the guest's
 * shell (`&`), capturing its own output and printing it after its index and whether it succeeded, in
 * one write (so answers do not interleave), and `wait` holds the command until all have ended. One
 * channel per guest instead of one per probe. A probe without its answer fails the check's attempt:
 * silence is no proof of "blocked".
 */
async function probeFrom(ctx: InstallerContext, target: SshTarget, batch: Planned[]): Promise<('reach' | 'blocked')[]> {
  const script = [
    ...batch.map(
      (item, index) =>
        `o=$(${quoteArgv(probeArgv(item))} 2>&1) && printf '${ANSWER} ${index} 0 %s\\n' "$o" || printf '${ANSWER} ${index} 1 %s\\n' "$o" &`,
    ),
    'wait',
  ].join('\n');
  const result = await onGuest(batch[0]!.source, () =>
    ctx.ssh.exec(target, ['sh', '-c', script], { allowFailure: true, timeoutMs: 15_000 }),
  );
  const answers = new Map<number, { ok: boolean; output: string }>();
  for (const record of result.stdout.split(ANSWER_START)) {
    const answer = ANSWER_FIELDS.exec(record);
    if (answer) answers.set(Number(answer[1]), { ok: answer[2] === '0', output: answer[3]! });
  }
  return batch.map((item, index) => {
    const answer = answers.get(index);
    if (!answer) {
      throw new Error(
        `probe ${item.probe.proto} ${item.address} from ${item.source.name} gave no answer (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 200)}`,
      );
    }
    // TCP: any answer, even a refusal, means the packet got through; silence or no route means blocked.
    if (answer.ok) return 'reach';
    return /refused/i.test(answer.output) ? 'reach' : 'blocked';
  });
}

/** Whether the source's copy and the other copy share the destination network's segment (they must not). */
async function sameSegment(ctx: InstallerContext, labId: string, item: Planned): Promise<boolean> {
  const network = item.probe.toNetwork!;
  const other = (item.copy + 1) % Math.max(1, (await loadLabSpec(ctx.db, labId)).copies);
  const [mine, theirs] = await Promise.all(
    [item.copy, other].map(
      async (copy) =>
        (await taskDetail(ctx, labId, networkTaskId(copy, network))) as { bridge?: string; tag?: number } | undefined,
    ),
  );
  if (!mine?.bridge || !theirs?.bridge) return true;
  return mine.bridge === theirs.bridge && mine.tag === theirs.tag;
}

/**
 * pve-firewall compiles what the API holds only on its period (FIREWALL_APPLY_SECONDS): until then a
 * packet meets the rules from before (a new VM's meet none), so a probe that gets through proves
 * nothing. The probes start once every node holding the VMs the check reads says (through the
 * gateway's `pve-firewall status`) that the rules in force are those its configuration compiles to,
 * which covers every write before the question; while a node has changes pending they ask again,
 * and when a node cannot say (no answer, a stopped service, SSH refused) they start a whole period
 * (and a fifth more) after the last firewall write, as they did before nodes were asked.
 */
async function firewallCompiled(ctx: InstallerContext, vms: VmRow[], signal: AbortSignal): Promise<void> {
  const deadline = (await lastFirewallWrite(ctx, vms)) + ctx.env.FIREWALL_APPLY_SECONDS * 1200;
  const nodes = [...new Set(vms.map((vm) => vm.node))];
  while (Date.now() < deadline && nodes.length > 0) {
    const state = await compileState(ctx, nodes, deadline - Date.now(), signal);
    if (state === 'compiled') return;
    if (state === 'unknown') break;
    const left = deadline - Date.now();
    if (left > 0) await sleep(Math.min(COMPILE_ASK_EVERY_MS, left), undefined, { signal });
  }
  const left = deadline - Date.now();
  if (left > 0) await sleep(left, undefined, { signal });
}

/** How often the check asks again while a node has changes pending. */
const COMPILE_ASK_EVERY_MS = 500;

/**
 * `compiled` when every one of `nodes` says so within `timeoutMs` (the gateway asks them), `pending`
 * when one has changes pending, `unknown` when one cannot say or no answer came (the question is
 * then withdrawn, so a gateway that comes back later does not work out answers nobody waits for).
 */
async function compileState(
  ctx: InstallerContext,
  nodes: string[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<'compiled' | 'pending' | 'unknown'> {
  try {
    const job = await ctx.producer.enqueue('firewall.status', { nodes });
    const end = await waitForJobEnd(ctx.producer.queues.network, job.id!, { signal, timeoutMs, maxDelayMs: 100 });
    if (!end) {
      // Still waiting (a job already taken is locked and stays: it ends within its own bound).
      await job.remove().catch(() => undefined);
      return 'unknown';
    }
    const answer = end.state === 'completed' ? (end.value as { nodes?: Record<string, unknown> } | null) : undefined;
    const states = nodes.map((node) => answer?.nodes?.[node]);
    if (states.every((state) => state === 'compiled')) return 'compiled';
    return states.every((state) => state === 'compiled' || state === 'pending') ? 'pending' : 'unknown';
  } catch (error) {
    signal.throwIfAborted();
    ctx.logger.debug({ err: error }, 'pve-firewall status not known; waiting out its period');
    return 'unknown';
  }
}
