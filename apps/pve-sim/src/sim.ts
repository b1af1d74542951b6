/**
 * The simulated Proxmox VE cluster, independent of any transport.
 *
 * Interface for the SSH side (host `qm`/`pveum`/`pvesm`/`pvesh`, SSH-reachable guests):
 *
 *   const sim = new Simulator(options)
 *   sim.dispatch({ method, path, params, auth }) → Promise<ApiResult>
 *       Runs the same handler HTTP uses, after authentication: `path` has no `/api2/json` prefix
 *       (e.g. '/nodes/pve01/qemu'), `params` are strings as they would arrive in a form body
 *       (booleans '1'/'0'), `auth` is { userid: 'root@pam' } or { userid, tokenid: '<token name>' }.
 *       ApiResult = { status, data?, errors?, message?, total? } — status 200 on success; otherwise the
 *       PVE status and message (e.g. 500 "VM is locked (clone)", 400 with `errors`).
 *   sim.waitForTask(upid) → Promise<{ exitstatus, log }>   ('OK' or the error text; log lines incl. TASK OK/ERROR)
 *   sim.guests() / sim.guest(vmid) → GuestView (see guests.ts): vmid, node, status, up, agentUp, ip (while up),
 *       ciuser, cipassword, sshkeys (decoded, one per entry), ipconfig0, nameserver, config copy.
 *   sim.on('guest-up', (guest: GuestView) => …)   the guest OS has booted (its IP is known)
 *   sim.on('guest-down', (guest: GuestView) => …) the VM stopped, was reset or destroyed
 *   sim.recordGuestEffect(vmid, effect)  remember what a guest did (shown by GET /_sim/guest-effects, cleared by reset)
 *   sim.attachGuestDisk(vm, disk)  give a VM the disk record its guest machine keeps (vm.guest, see state/guest-disk.ts)
 *   sim.on('state-replaced', () => …)  the whole state was replaced (reset or load): re-read what you keep in it
 *   sim.verifyPassword(userid, password) → boolean (root@pam's password, for the host's SSH login)
 *   sim.firewall  pve-firewall: one compiled ruleset per node (`activeOn(node)`, each refreshed every `firewallUpdate` at its own phase), service state per node
 *   sim.state  the raw ClusterState (read it; change it only through dispatch)
 *
 * For operators and tests: setFaults(partial), reset(), replaceState(state), refreshResourceStats()
 * (one pvestatd cycle now), powerOn(vm)/powerOff(vm), stop(). Transports live elsewhere: http.ts
 * (HTTP/HTTPS + /_sim admin), ssh/ (node shell and guests, plugged in as a startSimulator extension).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { allRoutes } from './api';
import { KeptList } from './api/vm-rows';
import { SimClock } from './clock';
import { ApiError } from './errors';
import { FaultInjector, type Faults } from './faults';
import { type GuestView, guestView } from './guests';
import { LockTable } from './locks';
import { FirewallDaemon } from './network/firewall-daemon';
import { resolveOptions, type SimulatorInput, type SimulatorOptions } from './options';
import { SeededRandom } from './random';
import { type Method, Paged, Router } from './router';
import { createDefaultState } from './state/defaults';
import type { GuestDisk } from './state/guest-disk';
import type { ClusterState, Vm } from './state/types';
import { agentEnabled } from './state/vm-config';
import { type Identity, TaskRunner } from './tasks';
import { validateParams } from './validate';

export interface ApiRequest {
  method: Method;
  /** API path without the `/api2/json` prefix, e.g. `/nodes/pve01/qemu`. */
  path: string;
  params: Record<string, string>;
  auth: Identity;
}

export interface ApiResult {
  status: number;
  data?: unknown;
  errors?: Record<string, string>;
  message?: string;
  total?: number;
  /** The whole 200 body `{"data":…}` as bytes, when the answer keeps them (the VM lists). */
  payload?: () => Buffer;
}

export interface SimulatorEvents {
  'guest-up': [GuestView];
  'guest-down': [GuestView];
  'state-replaced': [];
  faults: [Faults];
}

export class Simulator extends EventEmitter<SimulatorEvents> {
  readonly options: SimulatorOptions;
  readonly clock: SimClock;
  readonly locks = new LockTable();
  readonly random: SeededRandom;
  readonly faults: FaultInjector;
  readonly tasks: TaskRunner;
  state: ClusterState;
  /** SHA-256 fingerprint of the HTTPS certificate, reported by `GET /nodes`; set by the HTTP server. */
  tlsFingerprint = '';
  /** Key that signs tickets and CSRF tokens (a new one per simulator, so restarts invalidate tickets). */
  readonly ticketKey = randomBytes(32);
  private readonly router = new Router(allRoutes);
  /** Pending boot/agent timers per vmid, cancelled when the VM stops. */
  private readonly guestTimers = new Map<number, Array<() => void>>();
  /** Snapshot of `/cluster/resources` VM stats taken every pvestatd cycle. */
  resourceStats = new Map<number, { status: string; template: number; name: string }>();
  private cancelStatsCycle: (() => void) | undefined;
  /** pve-firewall: the compiled ruleset guest traffic meets, refreshed every `firewallUpdate`. */
  readonly firewall: FirewallDaemon;

  constructor(options: SimulatorInput = {}) {
    super();
    this.options = resolveOptions(options);
    this.random = new SeededRandom(this.options.seed);
    this.clock = new SimClock(this.options.timeScale, this.options.latencies);
    this.faults = new FaultInjector(this.random);
    this.state = createDefaultState(this.options, this.random);
    this.tasks = new TaskRunner(() => this.state, this.clock);
    this.tasks.shouldFail = (type) => this.faults.taskShouldFail(type);
    this.refreshResourceStats();
    this.firewall = new FirewallDaemon(() => this.state, this.clock);
    this.firewall.restart();
  }

  /** Runs one API call as an already authenticated caller. */
  async dispatch(request: ApiRequest): Promise<ApiResult> {
    try {
      const { route, pathParams } = this.router.match(request.method, request.path);
      if (route.denyToken && request.auth.tokenid) {
        throw new ApiError(
          403,
          `Permission check failed (URI '${request.path}' not available with API token, need proper ticket.)`,
        );
      }
      const node = pathParams.node;
      if (node && this.faults.nodeIsOffline(node)) throw new ApiError(595, 'No route to host');
      const params = mergePathParams(request.params, pathParams);
      validateParams(params, route.params, route.extraParams);
      const data = await route.handler({ sim: this, params, who: request.auth });
      if (data instanceof Paged) return { status: 200, data: data.items, total: data.total };
      // A VM list: its row objects are made only for callers that read them; HTTP sends its bytes.
      if (data instanceof KeptList) {
        return {
          status: 200,
          get data() {
            return data.data();
          },
          payload: () => data.payload(),
        };
      }
      return { status: 200, data: data ?? null };
    } catch (error) {
      return toApiResult(error);
    }
  }

  /** Resolves when a task has finished. */
  async waitForTask(upid: string): Promise<{ exitstatus: string; log: string[] }> {
    const task = await this.tasks.wait(upid);
    if (!task) throw new ApiError(400, 'Parameter verification failed.', { upid: 'no such task' });
    return { exitstatus: task.exitstatus ?? '', log: [...task.log] };
  }

  guests(): GuestView[] {
    return Object.values(this.state.vms).map((vm) => guestView(vm, this.options.guestSubnet));
  }

  guest(vmid: number): GuestView | undefined {
    const vm = this.state.vms[vmid];
    return vm ? guestView(vm, this.options.guestSubnet) : undefined;
  }

  recordGuestEffect(vmid: number, effect: unknown): void {
    const list = this.state.guestEffects[vmid] ?? [];
    list.push(effect);
    this.state.guestEffects[vmid] = list;
  }

  /**
   * Gives a VM the disk record of its guest machine (made at first boot). The machine writes it as
   * the guest changes; snapshots, clones, rollbacks and the state file copy it from the VM.
   */
  attachGuestDisk(vm: Vm, disk: GuestDisk): void {
    vm.guest = disk;
  }

  verifyPassword(userid: string, password: string): boolean {
    const user = this.state.users[userid];
    return user?.enable === 1 && user.password !== undefined && user.password === password;
  }

  /**
   * Marks a VM running and schedules its guest boot and agent start. `resumed`: started from a
   * snapshot's saved RAM, so there is no boot; the guest and its agent answer at once.
   */
  powerOn(vm: Vm, options: { resumed?: boolean } = {}): void {
    const now = Date.now();
    vm.status = 'running';
    vm.startedAt = now;
    vm.pid = this.state.nextPid++;
    vm.bootedAt = options.resumed ? now : now + this.clock.ms('boot');
    if (agentEnabled(vm.config) && !this.faults.agentBlocked(vm.vmid)) {
      vm.agentUpAt = options.resumed ? now : now + this.clock.ms('agentStart');
    } else delete vm.agentUpAt;
    this.scheduleGuestUp(vm);
  }

  /** Marks a VM stopped (or gone) and tells the SSH side its guest is down. */
  powerOff(vm: Vm): void {
    const wasRunning = vm.status === 'running';
    vm.status = 'stopped';
    delete vm.startedAt;
    delete vm.bootedAt;
    delete vm.agentUpAt;
    delete vm.pid;
    for (const cancel of this.guestTimers.get(vm.vmid) ?? []) cancel();
    this.guestTimers.delete(vm.vmid);
    if (wasRunning) this.emit('guest-down', guestView(vm, this.options.guestSubnet));
  }

  private scheduleGuestUp(vm: Vm): void {
    const delay = Math.max(0, (vm.bootedAt ?? Date.now()) - Date.now());
    const cancel = this.clock.schedule(delay, () => {
      if (this.state.vms[vm.vmid] === vm && vm.status === 'running') {
        // Seen as of the boot instant: a timer may fire a millisecond before Date.now() reaches it,
        // and a guest judged "not up yet" then would never get its SSH listener.
        const at = Math.max(Date.now(), vm.bootedAt ?? 0);
        this.emit('guest-up', guestView(vm, this.options.guestSubnet, at));
      }
    });
    this.guestTimers.set(vm.vmid, [cancel]);
  }

  /** Takes a new `/cluster/resources` stats snapshot now (a pvestatd cycle) and then every `resourcesLag`. */
  refreshResourceStats(): void {
    this.cancelStatsCycle?.();
    this.resourceStats = new Map(
      Object.values(this.state.vms).map((vm) => [
        vm.vmid,
        { status: vm.status, template: vm.config.template === '1' ? 1 : 0, name: vm.config.name ?? `VM ${vm.vmid}` },
      ]),
    );
    const period = this.clock.ms('resourcesLag');
    if (period > 0) this.cancelStatsCycle = this.clock.schedule(period, () => this.refreshResourceStats());
  }

  /** Whether `/cluster/resources` shows live values (no lag configured). */
  get resourcesAreLive(): boolean {
    return this.clock.ms('resourcesLag') <= 0;
  }

  /** Merges a partial fault set into the active faults (zod-validated) and applies slow tasks. */
  setFaults(partial: unknown): Faults {
    const faults = this.faults.update(partial);
    this.clock.slowTaskFactor = faults.slowTaskFactor;
    this.emit('faults', faults);
    return faults;
  }

  /**
   * Replaces the whole state (reset or snapshot load). Running VMs go on running as the state says:
   * a guest that had booted is up at once (its agent too, if it was), one still booting finishes
   * at the time it would have; their uptime and pid are kept.
   */
  replaceState(state: ClusterState): void {
    for (const vm of Object.values(this.state.vms)) this.powerOff(vm);
    this.clock.cancelAll();
    this.faults.reset();
    this.clock.slowTaskFactor = 1;
    this.state = state;
    for (const vm of Object.values(state.vms)) {
      if (vm.status !== 'running') continue;
      if (vm.startedAt === undefined || vm.bootedAt === undefined || vm.pid === undefined) this.powerOn(vm);
      else this.scheduleGuestUp(vm);
    }
    this.refreshResourceStats();
    this.firewall.restart();
    this.emit('state-replaced');
  }

  /** A fresh default cluster, as at start (same options, same seed). */
  reset(): void {
    Object.assign(this.random, new SeededRandom(this.options.seed));
    this.replaceState(createDefaultState(this.options, this.random));
  }

  /** Cancels every timer; in-flight tasks stop where they are. */
  stop(): void {
    this.cancelStatsCycle?.();
    this.clock.cancelAll();
    this.removeAllListeners();
  }
}

function mergePathParams(params: Record<string, string>, pathParams: Record<string, string>): Record<string, string> {
  const merged = { ...params };
  for (const [name, value] of Object.entries(pathParams)) {
    if (merged[name] !== undefined && merged[name] !== value) {
      throw new ApiError(400, 'Parameter verification failed.', {
        [name]: 'duplicate parameter (already defined in URI) with conflicting values!',
      });
    }
    merged[name] = value;
  }
  return merged;
}

function toApiResult(error: unknown): ApiResult {
  if (error instanceof ApiError) {
    const result: ApiResult = {
      status: error.status,
      message: error.message.endsWith('\n') ? error.message : `${error.message}\n`,
    };
    if (error.errors) result.errors = error.errors;
    return result;
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, message: `${message}\n` };
}
