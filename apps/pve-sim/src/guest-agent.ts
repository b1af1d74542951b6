/**
 * What the QEMU guest agent does inside a guest (guest-exec, guest-file-*), answered by whatever
 * simulates the guest OS. The SSH side (src/ssh/guest) provides it, so the agent and SSH act on
 * the same filesystem and the same shell; a simulator started without it has agents that refuse
 * these commands, as a qemu-ga started with them disabled does.
 */
import type { Simulator } from './sim';

/** qemu-ga's answer to guest-exec-status: `exitcode` and the output only once the process has exited. */
export interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  out?: Buffer;
  err?: Buffer;
}

/** The guest OS as the agent reaches it; every method fails with a GuestAgentError carrying qemu-ga's text. */
export interface GuestOsAccess {
  /** Starts `argv` (no shell involved) as root with `input` on stdin; resolves with the guest pid. */
  exec(vmid: number, argv: string[], input?: Buffer): Promise<number>;
  /** The process's state; once an exited process has been reported, its pid is forgotten. */
  execStatus(vmid: number, pid: number): GuestExecStatus;
  readFile(vmid: number, path: string): Promise<Buffer>;
  /** Creates (mode 0600) or truncates the file and writes `content`, as guest-file-open `wb` + write. */
  writeFile(vmid: number, path: string, content: Buffer): Promise<void>;
}

/** An error qemu-ga answered with; its message is the agent's `desc`. */
export class GuestAgentError extends Error {
  constructor(desc: string) {
    super(desc);
    this.name = 'GuestAgentError';
  }
}

const providers = new WeakMap<Simulator, GuestOsAccess>();

/** Plugs the guest OS in (the SSH side does at start); undefined unplugs it again. */
export function provideGuestOs(sim: Simulator, access: GuestOsAccess | undefined): void {
  if (access) providers.set(sim, access);
  else providers.delete(sim);
}

/** The guest OS the agent reaches, or a refusal of `command` as a qemu-ga with it disabled gives. */
export function guestOs(sim: Simulator, command: string): GuestOsAccess {
  const access = providers.get(sim);
  if (!access) throw new GuestAgentError(`Command ${command} has been disabled`);
  return access;
}
