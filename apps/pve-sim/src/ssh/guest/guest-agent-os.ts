/**
 * The guest agent's view of a guest: guest-exec runs a program (no shell in between) as root in
 * `/` through the same command table and filesystem the guest's SSH sessions use, and
 * guest-file-read/-write act on that filesystem, so whatever one side changes the other sees.
 * Started processes are kept per VM until their exit has been reported, and forgotten when the VM
 * goes down (its agent restarts with the guest).
 */
import { posix } from 'node:path';
import { GuestAgentError, type GuestExecStatus, type GuestOsAccess } from '../../guest-agent';
import type { GuestView } from '../../guests';
import type { Simulator } from '../../sim';
import { Shell } from '../shell/interpreter';
import { VirtualFs, VirtualFsError } from '../shell/virtual-fs';
import { guestCommands } from './guest-commands';
import type { GuestMachine } from './guest-machine';
import type { GuestSshManager } from './guest-ssh';

/** First pid handed out; a booted Linux guest's own processes sit below it. */
const firstPid = 1200;

export class GuestAgentOs implements GuestOsAccess {
  private readonly processes = new Map<number, Map<number, GuestExecStatus>>();
  private nextPid = firstPid;
  private readonly onDown = (guest: GuestView) => this.processes.delete(guest.vmid);

  constructor(
    private readonly sim: Simulator,
    private readonly guests: GuestSshManager,
  ) {
    sim.on('guest-down', this.onDown);
  }

  close(): void {
    this.sim.off('guest-down', this.onDown);
  }

  async exec(vmid: number, argv: string[], input?: Buffer): Promise<number> {
    const machine = await this.machine(vmid);
    const shell = this.rootShell(machine);
    const program = argv[0] ?? '';
    const commands = shell.options.commands;
    if (!commands[program] && !commands[posix.basename(program)]) {
      throw new GuestAgentError(`Failed to execute child process \u201c${program}\u201d (No such file or directory)`);
    }
    const pid = this.nextPid++;
    const status: GuestExecStatus = { exited: false };
    const table = this.processes.get(vmid) ?? new Map<number, GuestExecStatus>();
    table.set(pid, status);
    this.processes.set(vmid, table);
    const stdin = async () => input?.toString() ?? '';
    void shell.execute(argv, stdin).then(
      (result) => this.finish(machine, argv, status, result.code, result.stdout, result.stderr),
      (error: unknown) =>
        this.finish(machine, argv, status, 1, '', `${error instanceof Error ? error.message : error}\n`),
    );
    return pid;
  }

  execStatus(vmid: number, pid: number): GuestExecStatus {
    const status = this.processes.get(vmid)?.get(pid);
    if (!status) throw new GuestAgentError("Invalid parameter 'pid'");
    if (status.exited) this.processes.get(vmid)!.delete(pid);
    return status;
  }

  async readFile(vmid: number, path: string): Promise<Buffer> {
    const machine = await this.machine(vmid);
    const node = machine.fs.stat(VirtualFs.resolve(path, '/'));
    if (!node) throw new GuestAgentError(`failed to open file '${path}' (mode: 'r'): No such file or directory`);
    if (node.type === 'dir') throw new GuestAgentError('failed to read file: Is a directory');
    return node.content;
  }

  async writeFile(vmid: number, path: string, content: Buffer): Promise<void> {
    const machine = await this.machine(vmid);
    const shell = this.rootShell(machine);
    const target = VirtualFs.resolve(path, '/');
    try {
      shell.writeFile(target, content, machine.fs.stat(target) ? {} : { mode: 0o600 });
    } catch (error) {
      if (!(error instanceof VirtualFsError)) throw error;
      throw new GuestAgentError(`failed to open file '${path}' (mode: 'wb'): ${error.reason}`);
    }
  }

  private finish(
    machine: GuestMachine,
    argv: string[],
    status: GuestExecStatus,
    code: number,
    out: string,
    err: string,
  ) {
    status.exitcode = code;
    if (out) status.out = Buffer.from(out);
    if (err) status.err = Buffer.from(err);
    status.exited = true;
    machine.note({ kind: 'command', user: 'root', command: argv.join(' '), exitCode: code });
  }

  /** The guest's machine; the agent answers only after boot, when the SSH side has made it. */
  private async machine(vmid: number): Promise<GuestMachine> {
    const ready = this.guests.machine(vmid);
    if (ready) return ready;
    await this.guests.settled();
    const machine = this.guests.machine(vmid);
    if (!machine) throw new GuestAgentError('Guest agent is not responding');
    return machine;
  }

  /** qemu-ga runs commands as root from `/`. */
  private rootShell(machine: GuestMachine): Shell {
    const shell = machine.shell('root', guestCommands(machine, this.guests.network.forGuest(machine.spec.vmid)));
    return new Shell({ ...shell.options, cwd: '/' });
  }
}
