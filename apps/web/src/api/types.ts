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
export type Accepted = { id: string; status: string; jobId?: string };
export type LabCreateAnswer = Ok<'/labs', 'post'>;
export type DryRun = Extract<LabCreateAnswer, { dryRun: true }>;
export type VmRequest = Body<'/vms', 'post'>;
export type KeyCreateBody = Body<'/keys', 'post'>;
export type TemplateCreateBody = Body<'/templates', 'post'>;
export type OsName = OsProfile['os'];
