/**
 * `GET /api/v1/vms/:id/terminal` (WebSocket): a shell on a VM for the browser. The API opens an SSH
 * session to the VM's management address with the key of the VM's lab copy (a VM of no lab: the
 * installation's guest key), as the VM's cloud-init user, accepting only the host key the installer
 * pinned for the VM from its guest agent before its first SSH (no trust on first use here). Every open and close is an event naming who and when; a terminal
 * ends with the web session that opened it (sign-out, expiry, revoked key), with the VM, or after a
 * long idle time.
 *
 * Frames: binary both ways is terminal data; text frames from the browser are JSON control messages
 * (`{"type":"resize","cols":…,"rows":…}`); text frames from the API are JSON notices
 * (`{"type":"ready"|"error"|"closed","message":…}`).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { appendEvent, type Db, findVmHostKey, getVm } from '@glassdome/db';
import { OS_PROFILES, parseStoredVmSpec } from '@glassdome/lab';
import type { Logger } from '@glassdome/logger';
import { type InteractiveShell, openShell, type SshTarget } from '@glassdome/ssh';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type Principal, principalOfKey, principalOfKeyId, roleAtLeast, scopeOfPrincipal } from '../auth/keys';
import { principalOfSession } from '../auth/middleware';
import type { SessionClaims, SessionStore } from '../auth/session';

export interface TerminalOptions {
  db: Db;
  sessions: SessionStore;
  logger: Logger;
  /** The key a VM is logged into with; undefined when the API was given neither GUEST_SSH_KEY_FILE nor GLASSDOME_SECRET_KEY. */
  guestKey: GuestKeyOf | undefined;
  /** Guests' SSH port (GUEST_SSH_PORT). */
  guestSshPort: number;
  /** Terminals one API key may hold open at once. @defaultValue 4 */
  perKey?: number;
  /** Terminals this process holds open at once. @defaultValue 64 */
  perProcess?: number;
  /** A terminal with no keystroke and no output this long is closed. @defaultValue 1800000 (30 min) */
  idleMs?: number;
  /** How often a terminal's session and VM are checked again. @defaultValue 15000 */
  recheckMs?: number;
}

/** The login key of a VM: its lab copy's, or the installation's for a VM of no lab. */
export type GuestKeyOf = (vm: { lab_id: string | null; copy: number | null }) => Promise<{ privateKey: string }>;

const PATH = /^\/api\/v1\/vms\/([0-9a-f-]{36})\/terminal$/;

interface OpenTerminal {
  principal: Principal;
  session: SessionClaims | undefined;
  vmId: string;
  close(reason: string): void;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict' };
  const text = JSON.stringify({ error: { code: String(status), message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason[status as keyof typeof reason] ?? 'Service Unavailable'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/** Browsers always send Origin on a WebSocket: it must be this server, so no other site can open one with our cookie. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function loginUserOf(spec: unknown): string {
  const stored = parseStoredVmSpec(spec);
  return stored.cloudInit.user || (stored.os ? OS_PROFILES[stored.os].defaultUser : 'ubuntu');
}

function notice(ws: WebSocket, type: string, message: string): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, message }));
}

export class TerminalServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly open = new Set<OpenTerminal>();

  constructor(private readonly options: TerminalOptions) {}

  /** The HTTP server's 'upgrade' listener. Upgrades to other paths are refused with 404. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const match = PATH.exec(path);
    if (!match) {
      refuse(socket, 404, `no WebSocket at ${path}`);
      return;
    }
    socket.on('error', () => socket.destroy());
    this.admit(req, match[1]!).then(
      (admitted) =>
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          void this.run(ws, admitted);
        }),
      (error: unknown) => {
        if (error instanceof Refusal) return refuse(socket, error.status, error.message);
        this.options.logger.error({ err: error }, 'terminal upgrade failed');
        refuse(socket, 503, 'the terminal could not be opened');
      },
    );
  };

  /** Ends every terminal of a signed-out web session. */
  readonly endSession = (nonce: string): void => {
    for (const terminal of this.open) if (terminal.session?.nonce === nonce) terminal.close('signed out');
  };

  /** Who asks, for which VM, and where to connect: every check before the WebSocket is accepted. */
  private async admit(req: IncomingMessage, vmId: string) {
    if (!sameOrigin(req)) throw new Refusal(403, 'the WebSocket must come from this site');
    const { principal, session } = await this.authenticate(req);
    if (!roleAtLeast(principal.role, 'operator')) throw new Refusal(403, 'a terminal needs the operator role');
    const mine = [...this.open].filter((terminal) => terminal.principal.keyId === principal.keyId).length;
    if (mine >= (this.options.perKey ?? 4)) throw new Refusal(409, 'this key already has the most terminals open');
    if (this.open.size >= (this.options.perProcess ?? 64)) throw new Refusal(503, 'too many terminals are open');
    if (!this.options.guestKey) {
      throw new Refusal(503, 'terminals need GUEST_SSH_KEY_FILE or GLASSDOME_SECRET_KEY in the API environment');
    }
    const target = await this.targetOf(vmId, principal);
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const size = {
      cols: clamp(Number(query.get('cols')) || 100, 10, 500),
      rows: clamp(Number(query.get('rows')) || 30, 5, 200),
    };
    return { principal, session, target, size };
  }

  private async authenticate(req: IncomingMessage): Promise<{ principal: Principal; session?: SessionClaims }> {
    const bearer = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? '');
    if (bearer) {
      const principal = await principalOfKey(this.options.db, bearer[1]!);
      if (!principal) throw new Refusal(401, 'the API key is unknown or revoked');
      return { principal };
    }
    const session = await principalOfSession(this.options.db, this.options.sessions, req.headers.cookie);
    if ('refused' in session) throw new Refusal(401, session.refused);
    return { principal: session.principal, session: session.claims };
  }

  private async targetOf(
    vmId: string,
    principal: Principal,
  ): Promise<{ vm: { id: string; name: string; labId: string | null }; ssh: SshTarget }> {
    // Another project's VM is not found, exactly as one that does not exist.
    const vm = await getVm(this.options.db, vmId, scopeOfPrincipal(principal));
    if (!vm || vm.status === 'destroyed') throw new Refusal(404, 'VM not found');
    if (vm.status !== 'ready' || !vm.ip) throw new Refusal(409, `the VM is ${vm.status}; a terminal needs it ready`);
    const port = this.options.guestSshPort;
    const fingerprint = await findVmHostKey(this.options.db, vm.id);
    if (!fingerprint) throw new Refusal(409, 'no host key is pinned for this VM; redeploy it');
    const { privateKey } = await this.options.guestKey!(vm);
    return {
      vm: { id: vm.id, name: vm.name, labId: vm.lab_id },
      ssh: {
        host: vm.ip,
        port,
        username: loginUserOf(vm.spec),
        privateKey,
        hostKey: { kind: 'pinned', fingerprints: [fingerprint] },
      },
    };
  }

  private async run(ws: WebSocket, admitted: Awaited<ReturnType<TerminalServer['admit']>>): Promise<void> {
    const { principal, session, target } = admitted;
    const { vm } = target;
    const log = this.options.logger.child({
      vmId: vm.id,
      principal: { keyId: principal.keyId, keyName: principal.name, project: principal.project },
    });
    const opened = Date.now();
    let shell: InteractiveShell | undefined;
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    let recheck: NodeJS.Timeout | undefined;
    const terminal: OpenTerminal = {
      principal,
      session,
      vmId: vm.id,
      close: (reason) => {
        if (ended) return;
        ended = true;
        clearTimeout(idle);
        clearInterval(recheck);
        this.open.delete(terminal);
        shell?.close();
        notice(ws, 'closed', reason);
        ws.close(1000, reason.slice(0, 120));
        log.info({ reason, seconds: Math.round((Date.now() - opened) / 1000) }, 'terminal closed');
        void appendEvent(this.options.db, {
          vmId: vm.id,
          labId: vm.labId,
          kind: 'terminal.closed',
          message: `terminal on ${vm.name} closed (${reason}) for ${principal.name}`,
          data: { keyId: principal.keyId, apiKey: principal.name, reason },
        }).catch((error: unknown) => log.warn({ err: error }, 'terminal close event not recorded'));
      },
    };
    this.open.add(terminal);
    const idleMs = this.options.idleMs ?? 30 * 60_000;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => terminal.close('idle'), idleMs);
    };
    touch();
    ws.on('close', () => terminal.close('browser closed the terminal'));
    ws.on('error', () => terminal.close('connection error'));

    try {
      shell = await openShell(target.ssh, admitted.size);
    } catch (error) {
      log.warn({ err: error }, 'terminal SSH failed');
      notice(ws, 'error', `SSH to ${vm.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      terminal.close('SSH failed');
      return;
    }
    if (ended) {
      shell.close();
      return;
    }
    log.info({ host: target.ssh.host, user: target.ssh.username }, 'terminal opened');
    await appendEvent(this.options.db, {
      vmId: vm.id,
      labId: vm.labId,
      kind: 'terminal.opened',
      message: `terminal on ${vm.name} opened by ${principal.name} as ${target.ssh.username}`,
      data: { keyId: principal.keyId, apiKey: principal.name, user: target.ssh.username },
    }).catch((error: unknown) => log.warn({ err: error }, 'terminal open event not recorded'));
    notice(ws, 'ready', `${target.ssh.username}@${vm.name}`);

    shell.channel.on('data', (chunk: Buffer) => {
      touch();
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    });
    shell.channel.stderr.on('data', (chunk: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    });
    void shell.closed.then(() => terminal.close('the shell ended'));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      touch();
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        shell?.channel.write(bytes);
        return;
      }
      try {
        const message = JSON.parse(bytes.toString('utf8')) as { type?: unknown; cols?: unknown; rows?: unknown };
        if (message.type === 'resize' && typeof message.cols === 'number' && typeof message.rows === 'number') {
          shell?.resize(clamp(message.cols, 10, 500), clamp(message.rows, 5, 200));
        }
      } catch {
        // A malformed control message is ignored; it cannot reach the shell.
      }
    });
    recheck = setInterval(() => void this.stillAllowed(terminal), this.options.recheckMs ?? 15_000);
  }

  /** The web session may have ended (expiry, sign-out on another replica, revoked key) or the VM gone. */
  private async stillAllowed(terminal: OpenTerminal): Promise<void> {
    try {
      if (terminal.session) {
        if (terminal.session.expiresAt * 1000 <= Date.now()) return terminal.close('the session expired');
        if (await this.options.sessions.isRevoked(terminal.session)) return terminal.close('signed out');
      }
      if (!(await principalOfKeyId(this.options.db, terminal.principal.keyId))) {
        return terminal.close('the API key was revoked');
      }
      const vm = await getVm(this.options.db, terminal.vmId);
      if (vm?.status !== 'ready') terminal.close(`the VM is ${vm?.status ?? 'gone'}`);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'terminal re-check failed; trying again later');
    }
  }

  /** Closes every terminal (the API is stopping). */
  close(): void {
    for (const terminal of [...this.open]) terminal.close('the API is stopping');
    this.wss.close();
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}
