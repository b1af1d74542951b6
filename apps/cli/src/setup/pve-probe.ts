/**
 * The few read-only Proxmox API calls `glassdome setup` makes to check a token before anything of
 * Glassdome runs. Setup configures the connection the services will use, so it must try it from
 * here; everything else the CLI does goes through Glassdome's API. Deliberately not
 * `@glassdome/proxmox` (the workers' client, with retries, task polling and error classes): a GET
 * with a token over a pinned TLS connection is all a check needs.
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { pinnedTlsSocket } from './tls-peer';

/** How long one check call may take; an operator is waiting. */
const CALL_TIMEOUT_MS = 8_000;

export interface PveTarget {
  /** e.g. https://pve.example:8006 (the /api2/json prefix is added here). */
  url: string;
  tokenId: string;
  tokenSecret: string;
  /** Pinned SHA-256 fingerprint of the API certificate; required for https. */
  tlsFingerprint?: string;
}

/** Proxmox answered 401: the token id or secret is wrong, the token expired or its user is disabled. */
export class PveTokenRefusedError extends Error {
  constructor(readonly tokenId: string) {
    super(`Proxmox refused token ${tokenId}`);
    this.name = 'PveTokenRefusedError';
  }
}

/** Any other answer than 200, with Proxmox's own reason (its JSON `message`, else the status line). */
export class PveAnswerError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly path: string,
  ) {
    super(`GET ${path} answered ${status}: ${reason}`);
    this.name = 'PveAnswerError';
  }
}

function read(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      text += chunk;
    });
    response.on('end', () => resolve(text));
    response.on('error', reject);
  });
}

function parsed(text: string): { data?: unknown; message?: unknown } {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}

/** `GET /api2/json<path>` with the token; answers `data`. Over https, the request is written only once the pin matched. */
export async function pveGet<T>(target: PveTarget, path: string): Promise<T> {
  const url = new URL(`${target.url.replace(/\/+$/, '')}/api2/json${path}`);
  const headers = { Authorization: `PVEAPIToken=${target.tokenId}=${target.tokenSecret}` };
  let request: ClientRequest;
  if (url.protocol === 'https:') {
    if (!target.tlsFingerprint) throw new Error(`${target.url}: https needs a pinned TLS fingerprint`);
    const socket: Duplex = await pinnedTlsSocket(target.url, target.tlsFingerprint);
    // No agent: the request goes over exactly this socket, whose certificate was already checked.
    request = httpsRequest(url, { headers, createConnection: () => socket });
  } else {
    request = httpRequest(url, { headers });
  }
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    request.setTimeout(CALL_TIMEOUT_MS, () => request.destroy(new Error('no answer in time')));
    request.once('response', resolve);
    request.once('error', reject);
    request.end();
  });
  const body = parsed(await read(response));
  if (response.statusCode === 401) throw new PveTokenRefusedError(target.tokenId);
  if (response.statusCode !== 200) {
    const reason = typeof body.message === 'string' ? body.message.trim() : (response.statusMessage ?? '');
    throw new PveAnswerError(response.statusCode ?? 0, reason, path);
  }
  return body.data as T;
}

/** `GET /nodes`: each node's name and whether the cluster sees it online. */
export async function listNodes(target: PveTarget): Promise<{ node: string; online: boolean }[]> {
  const rows = await pveGet<{ node: string; status?: string }[]>(target, '/nodes');
  return rows.map((row) => ({ node: row.node, online: row.status === 'online' }));
}

/** `GET /access/permissions`: the caller's effective privileges, by ACL path. */
export async function effectivePrivileges(target: PveTarget): Promise<Record<string, string[]>> {
  const map = await pveGet<Record<string, Record<string, number>>>(target, '/access/permissions');
  return Object.fromEntries(Object.entries(map).map(([path, privs]) => [path, Object.keys(privs)]));
}

/** `GET /nodes/{node}/storage`: the storages the caller may see (Datastore.Audit or AllocateSpace). */
export async function listStorages(target: PveTarget, node: string): Promise<{ storage: string; content: string }[]> {
  const rows = await pveGet<{ storage: string; content?: string }[]>(
    target,
    `/nodes/${encodeURIComponent(node)}/storage`,
  );
  return rows.map((row) => ({ storage: row.storage, content: row.content ?? '' }));
}

/** `GET /nodes/{node}/network?type=bridge`: the bridges the caller may see, and whether each is VLAN-aware. */
export async function listBridges(target: PveTarget, node: string): Promise<{ iface: string; vlanAware: boolean }[]> {
  const rows = await pveGet<{ iface: string; bridge_vlan_aware?: number | string }[]>(
    target,
    `/nodes/${encodeURIComponent(node)}/network?type=bridge`,
  );
  return rows.map((row) => ({ iface: row.iface, vlanAware: Number(row.bridge_vlan_aware ?? 0) === 1 }));
}
