import type { ProxmoxClient } from './client';
import { toBoolean, toList, toNumber, toOptionalString } from './normalize';

export interface PveUser {
  userid: string;
  enabled: boolean;
  /** Seconds since the epoch; 0 = never. */
  expire: number;
  comment: string | undefined;
}

export interface ApiToken {
  tokenid: string;
  privsep: boolean;
  expire: number;
  comment: string | undefined;
}

/** A token just created: `value` is its secret, shown once; store it sealed, never log it. */
export interface CreatedToken {
  fullTokenId: string;
  value: string;
  privsep: boolean;
}

export interface AclEntry {
  path: string;
  type: 'user' | 'group' | 'token' | string;
  ugid: string;
  roleid: string;
  propagate: boolean;
}

export interface Role {
  roleid: string;
  privs: string[];
  special: boolean;
}

export interface AclGrant {
  /** `/`, `/vms/101`, `/sdn/zones/localnetwork/vmbr0`, `/pool/lab-1`… */
  path: string;
  roles: readonly string[];
  users?: readonly string[];
  tokens?: readonly string[];
  groups?: readonly string[];
  /** @defaultValue true */
  propagate?: boolean;
}

/** Users, API tokens, roles, ACLs and resource pools (`/access/…`, `/pools`). */
export class AccessApi {
  constructor(private readonly client: ProxmoxClient) {}

  async users(): Promise<PveUser[]> {
    const rows = await this.client.get<Record<string, unknown>[]>('/access/users');
    return rows.map((row) => ({
      userid: String(row.userid),
      enabled: row.enable === undefined ? true : toBoolean(row.enable),
      expire: toNumber(row.expire),
      comment: toOptionalString(row.comment),
    }));
  }

  async createUser(userid: string, options: { password?: string; comment?: string; expire?: number } = {}) {
    await this.client.post('/access/users', { userid, ...options });
  }

  async deleteUser(userid: string): Promise<void> {
    await this.client.delete(`/access/users/${encodeURIComponent(userid)}`);
  }

  async tokens(userid: string): Promise<ApiToken[]> {
    const rows = await this.client.get<Record<string, unknown>[]>(`/access/users/${encodeURIComponent(userid)}/token`);
    return rows.map((row) => ({
      tokenid: String(row.tokenid),
      privsep: toBoolean(row.privsep),
      expire: toNumber(row.expire),
      comment: toOptionalString(row.comment),
    }));
  }

  async createToken(
    userid: string,
    tokenName: string,
    options: { privsep?: boolean; expire?: number; comment?: string } = {},
  ): Promise<CreatedToken> {
    const path = `/access/users/${encodeURIComponent(userid)}/token/${encodeURIComponent(tokenName)}`;
    const raw = await this.client.post<Record<string, unknown>>(path, {
      privsep: options.privsep ?? true,
      expire: options.expire,
      comment: options.comment,
    });
    const info = (raw.info ?? {}) as Record<string, unknown>;
    return {
      fullTokenId: String(raw['full-tokenid']),
      value: String(raw.value),
      privsep: info.privsep === undefined ? true : toBoolean(info.privsep),
    };
  }

  async deleteToken(userid: string, tokenName: string): Promise<void> {
    await this.client.delete(`/access/users/${encodeURIComponent(userid)}/token/${encodeURIComponent(tokenName)}`);
  }

  async roles(): Promise<Role[]> {
    const rows = await this.client.get<Record<string, unknown>[]>('/access/roles');
    return rows.map((row) => ({
      roleid: String(row.roleid),
      privs: toList(row.privs),
      special: toBoolean(row.special),
    }));
  }

  async createRole(roleid: string, privs: readonly string[]): Promise<void> {
    await this.client.post('/access/roles', { roleid, privs: privs.join(',') });
  }

  /** Replaces the role's privileges (PVE's `append` left off). */
  async updateRole(roleid: string, privs: readonly string[]): Promise<void> {
    await this.client.put(`/access/roles/${encodeURIComponent(roleid)}`, { privs: privs.join(',') });
  }

  async acl(): Promise<AclEntry[]> {
    const rows = await this.client.get<Record<string, unknown>[]>('/access/acl');
    return rows.map((row) => ({
      path: String(row.path),
      type: String(row.type),
      ugid: String(row.ugid),
      roleid: String(row.roleid),
      propagate: row.propagate === undefined ? true : toBoolean(row.propagate),
    }));
  }

  async grant(grant: AclGrant): Promise<void> {
    await this.client.put('/access/acl', aclParams(grant));
  }

  async revoke(grant: AclGrant): Promise<void> {
    await this.client.put('/access/acl', { ...aclParams(grant), delete: true });
  }

  async pools(): Promise<{ poolid: string; comment: string | undefined }[]> {
    const rows = await this.client.get<Record<string, unknown>[]>('/pools');
    return rows.map((row) => ({ poolid: String(row.poolid), comment: toOptionalString(row.comment) }));
  }

  async createPool(poolid: string, comment?: string): Promise<void> {
    await this.client.post('/pools', { poolid, comment });
  }

  /** Removes an empty pool (PVE refuses one that still has members). */
  async deletePool(poolid: string): Promise<void> {
    // `/pools/{poolid}` exists on every PVE 8 (8.4 also has `DELETE /pools?poolid=`).
    await this.client.delete(`/pools/${encodeURIComponent(poolid)}`);
  }

  /** Effective privileges of the caller (or of `userid`) by path. */
  async permissions(options: { path?: string; userid?: string } = {}): Promise<Record<string, string[]>> {
    const raw = await this.client.get<Record<string, Record<string, unknown>>>('/access/permissions', options);
    return Object.fromEntries(Object.entries(raw).map(([path, privs]) => [path, Object.keys(privs ?? {})]));
  }
}

function aclParams(grant: AclGrant) {
  return {
    path: grant.path,
    roles: grant.roles.join(','),
    users: grant.users?.join(','),
    tokens: grant.tokens?.join(','),
    groups: grant.groups?.join(','),
    propagate: grant.propagate ?? true,
  };
}
