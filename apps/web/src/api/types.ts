/** Names for the API's answers and bodies, all taken from the generated OpenAPI types. */
import type { paths } from './schema.gen';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { responses: infer R }
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 201: infer A }
      ? Json<A>
      : R extends { 202: infer A }
        ? Json<A>
        : never
  : never;
type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

export type Session = Ok<'/session', 'get'>;
export type Role = Session['role'];
export type LabSummary = Ok<'/labs', 'get'>['items'][number];
export type LabDetail = Ok<'/labs/{id}', 'get'>;
export type Vm = Ok<'/vms/{id}', 'get'>;
export type Step = Vm['steps'][number];
export type Topology = Ok<'/labs/{id}/topology', 'get'>;
export type TopologyVm = Topology['vms'][number];
export type OsProfile = Ok<'/os-profiles', 'get'>['items'][number];
export type SystemStatus = Ok<'/system/status', 'get'>;
export type Alert = Ok<'/alerts', 'get'>['items'][number];
export type Template = Ok<'/templates', 'get'>['items'][number];
export type ApiKey = Ok<'/keys', 'get'>['items'][number];
export type CreatedKey = Ok<'/keys', 'post'>;
export type CatalogEntry = Ok<'/lab-templates', 'get'>['items'][number];
export type LabRoster = Ok<'/labs/{id}/roster', 'get'>;
export type Accepted = { id: string; status: string; jobId?: string };
export type LabCreateAnswer = Ok<'/labs', 'post'>;
export type DryRun = Extract<LabCreateAnswer, { dryRun: true }>;
export type VmRequest = Body<'/vms', 'post'>;
export type KeyCreateBody = Body<'/keys', 'post'>;
export type TemplateCreateBody = Body<'/templates', 'post'>;
export type OsName = OsProfile['os'];

/*
 * Fields the pipeline added to VM and lab answers after these types' schemas were written: the
 * answers are open objects (`[key: string]: unknown` in the generated types), so they are read
 * here with a check of their shape rather than trusted.
 */

/** How an operator or trainee reaches a VM: its management address, SSH port and login user. */
export interface VmAccess {
  host: string;
  port: number;
  user: string;
}

/** A lab VM's address on one of its lab networks (null: assigned by Glassdome, see the topology). */
export interface VmAddress {
  network: string;
  address: string | null;
}

export interface IsolationPair {
  copy: number;
  from: string;
  /** A VM of the same copy, `outside`, or `other copy: <vm>`. */
  to: string;
  address: string | null;
  proto: string;
  port: number | null;
  expected: 'reach' | 'blocked';
  observed: 'reach' | 'blocked' | 'not probed';
  why: string;
  method: string;
}

/** The lab's last isolation check: the reachability matrix run from inside the guests. */
export interface IsolationResult {
  checkedAt: string;
  agreed: boolean;
  probes: number;
  disagreements: number;
  pairs: IsolationPair[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function accessOf(vm: Vm): VmAccess | undefined {
  const access = (vm as Record<string, unknown>).access;
  if (!isRecord(access)) return undefined;
  const { host, port, user } = access;
  return typeof host === 'string' && typeof port === 'number' && typeof user === 'string'
    ? { host, port, user }
    : undefined;
}

export function addressesOf(vm: Vm): VmAddress[] {
  const addresses = (vm as Record<string, unknown>).addresses;
  if (!Array.isArray(addresses)) return [];
  return addresses.flatMap((item) =>
    isRecord(item) && typeof item.network === 'string'
      ? [{ network: item.network, address: typeof item.address === 'string' ? item.address : null }]
      : [],
  );
}

export function isolationOf(lab: LabDetail): IsolationResult | undefined {
  const isolation = (lab as Record<string, unknown>).isolation;
  if (!isRecord(isolation) || !Array.isArray(isolation.pairs) || typeof isolation.agreed !== 'boolean')
    return undefined;
  const pairs = isolation.pairs.filter(
    (pair): pair is IsolationPair =>
      isRecord(pair) &&
      typeof pair.copy === 'number' &&
      typeof pair.from === 'string' &&
      typeof pair.to === 'string' &&
      typeof pair.proto === 'string' &&
      typeof pair.expected === 'string' &&
      typeof pair.observed === 'string',
  );
  return {
    checkedAt: String(isolation.checkedAt ?? ''),
    agreed: isolation.agreed,
    probes: typeof isolation.probes === 'number' ? isolation.probes : pairs.length,
    disagreements: typeof isolation.disagreements === 'number' ? isolation.disagreements : 0,
    pairs,
  };
}

/** `ssh -p 22 ubuntu@127.64.0.12`, the command that reaches a VM. */
export function sshCommand(access: VmAccess): string {
  return `ssh ${access.port === 22 ? '' : `-p ${access.port} `}${access.user}@${access.host}`;
}
