import { labSpecJsonSchema, vmRequestJsonSchema } from '@glassdome/lab';
import { z } from 'zod';
import { labCancelQuery, labFromReferenceBody } from './exercise-schemas';
import { exercisePaths, labPatchOperation } from './openapi-exercises';
import { operation, schemaOf } from './openapi-operation';
import {
  accepted,
  alertAnswer,
  apiKeyAnswer,
  catalogEntryAnswer,
  createdKeyAnswer,
  labAnswer,
  labDetailAnswer,
  labDryRunAnswer,
  listOf,
  templateAnswer,
  vmAnswer,
} from './responses';
import { meResponse } from './routes/me';
import { networkCreateBody } from './routes/networks';
import { sessionCreateBody, sessionResponse } from './routes/session';
import { systemStatusResponse } from './routes/system';
import { labTopologyResponse, osProfilesResponse } from './routes/web-views';
import {
  alertListQuery,
  apiKeyCreateBody,
  labCreateQuery,
  labEventPageQuery,
  labListQuery,
  permissionGrantBody,
  projectQuotasBody,
  templateCreateBody,
  templatePublishBody,
  traineeKeyCreateBody,
  vmListQuery,
} from './schemas';

function paths(): Record<string, Record<string, ReturnType<typeof operation>>> {
  const vmBody = vmRequestJsonSchema();
  const labBody = { oneOf: [labSpecJsonSchema(), schemaOf(labFromReferenceBody)] };
  const id = ['id'];
  return {
    '/vms': {
      post: operation({
        summary: 'Quick-deploy one VM',
        body: vmBody,
        response: accepted,
        ok: [
          202,
          "{id, status, jobId} + Location, at the commit that records the VM and its job: the job reaches BullMQ with the outbox relay's next send, and GET /jobs/{id} shows it in state `outbox` until then",
        ],
      }),
      get: operation({
        summary: 'List standalone VMs',
        query: vmListQuery,
        response: listOf(vmAnswer),
        ok: [200, 'VMs with their steps'],
      }),
    },
    '/vms/{id}': {
      get: operation({
        summary: 'A VM, its steps with timings, IP',
        pathParams: id,
        response: vmAnswer,
        ok: [200, 'the VM'],
      }),
      delete: operation({ summary: 'Destroy a VM', pathParams: id, ok: [202, 'destroying'] }),
    },
    '/labs': {
      post: operation({
        summary: 'Deploy a lab spec (JSON or YAML) or a catalog lab',
        body: labBody,
        yaml: true,
        query: labCreateQuery,
        response: z.union([accepted, labDryRunAnswer]),
        ok: [202, '{id, status}; with dryRun=true, 200 and the planned graph'],
      }),
      get: operation({ summary: 'List labs', query: labListQuery, response: listOf(labAnswer), ok: [200, 'labs'] }),
    },
    '/labs/{id}': {
      get: operation({
        summary: 'A lab, each VM and each step',
        pathParams: id,
        response: labDetailAnswer,
        ok: [200, 'the lab'],
      }),
      delete: operation({ summary: 'Tear down everything the lab owns', pathParams: id, ok: [202, 'destroying'] }),
      patch: labPatchOperation(),
    },
    '/labs/{id}/events': {
      get: operation({
        summary: 'Live progress (Server-Sent Events); with Accept: application/json, a page of the timeline',
        pathParams: id,
        query: labEventPageQuery,
        ok: [200, 'event stream, or {items, limit, nextCursor} oldest first'],
      }),
    },
    '/labs/{id}/cancel': {
      post: operation({
        summary: 'Stop in-flight work: every VM not ready is cancelled at once; ?destroyVms=true deletes them',
        pathParams: id,
        query: labCancelQuery,
        ok: [202, 'cancelled'],
      }),
    },
    '/labs/{id}/retry': { post: operation({ summary: 'Retry what failed', pathParams: id, ok: [202, 'deploying'] }) },
    '/lab-templates': {
      get: operation({
        summary: 'The built-in lab catalog',
        response: listOf(catalogEntryAnswer),
        ok: [200, 'catalog entries'],
      }),
    },
    '/templates': {
      post: operation({
        summary: 'Build an OS template on a node',
        body: schemaOf(templateCreateBody),
        ok: [202, 'queued'],
      }),
      get: operation({ summary: 'List templates', response: listOf(templateAnswer), ok: [200, 'templates'] }),
    },
    '/templates/{id}': {
      delete: operation({
        summary: 'Delete a failed template (409 unless failed), so a new build may be requested',
        pathParams: id,
        ok: [204, 'deleted'],
      }),
    },
    '/templates/{id}/retry': {
      post: operation({
        summary: 'Build a failed template again (409 unless failed)',
        pathParams: id,
        ok: [202, 'queued'],
      }),
    },
    '/networks': {
      post: operation({
        summary:
          'Give a project a named network (made by the gateway: a VNet of a leased VLAN tag); its VMs join it with network.name',
        body: schemaOf(networkCreateBody),
        role: 'admin',
        ok: [202, 'creating'],
      }),
      get: operation({ summary: "The networks of the caller's project (admins: all)", ok: [200, 'networks'] }),
    },
    '/networks/{id}': {
      get: operation({
        summary: "One network (404 outside the caller's project)",
        pathParams: id,
        ok: [200, 'the network'],
      }),
      delete: operation({
        summary: 'Delete a network (409 while a VM not yet destroyed is on it)',
        pathParams: id,
        role: 'admin',
        ok: [202, 'deleting'],
      }),
    },
    '/permissions': {
      post: operation({
        summary: 'Grant privileges on a path to a user or token',
        body: schemaOf(permissionGrantBody),
        role: 'admin',
        ok: [202, 'queued'],
      }),
    },
    '/jobs/{id}': {
      get: operation({
        summary: "Any job's state",
        pathParams: id,
        ok: [200, "the job: BullMQ's state, or `outbox` while its intent is committed and not yet relayed"],
      }),
    },
    '/inventory': { get: operation({ summary: 'Desired and observed state of every VM', ok: [200, 'inventory'] }) },
    '/alerts': {
      get: operation({ summary: 'Alerts', query: alertListQuery, response: listOf(alertAnswer), ok: [200, 'alerts'] }),
    },
    '/alerts/{id}/ack': {
      post: operation({ summary: 'Acknowledge an open alert', pathParams: id, ok: [200, 'the alert'] }),
    },
    '/overseer/report': {
      get: operation({ summary: 'Labs, VMs, alerts and remediations at a glance', ok: [200, 'report'] }),
    },
    '/keys': {
      post: operation({
        summary: 'Create an API key (shown once)',
        body: schemaOf(apiKeyCreateBody),
        role: 'admin',
        response: createdKeyAnswer,
        ok: [201, 'the key'],
      }),
      get: operation({
        summary: 'List API keys (prefixes only)',
        role: 'admin',
        response: listOf(apiKeyAnswer),
        ok: [200, 'keys'],
      }),
    },
    '/me': {
      get: operation({
        summary: 'Who the calling key is: id, name, role, project (and a trainee key’s lab copy)',
        response: meResponse,
        ok: [200, 'the key'],
      }),
    },
    '/system/status': {
      get: operation({
        summary: 'Stack health: Redis, Postgres, each queue with its workers, the last overseer scan',
        response: systemStatusResponse,
        ok: [200, 'the status (also when degraded)'],
      }),
    },
    '/session': {
      post: operation({
        summary: 'Sign in: exchange an API key for an HttpOnly session cookie (the web UI)',
        body: schemaOf(sessionCreateBody),
        response: sessionResponse,
        ok: [201, 'the session; Set-Cookie gd_session'],
      }),
      get: operation({ summary: 'The signed-in session', response: sessionResponse, ok: [200, 'the session'] }),
      delete: operation({ summary: 'Sign out (clears the cookie)', ok: [204, 'signed out'] }),
    },
    '/labs/{id}/topology': {
      get: operation({
        summary: "A lab's networks, VMs with addresses, dependsOn edges and rules (from its spec)",
        pathParams: id,
        response: labTopologyResponse,
        ok: [200, 'the topology'],
      }),
    },
    '/os-profiles': {
      get: operation({
        summary: 'OS profiles a VM may name, with defaults and template status',
        response: osProfilesResponse,
        ok: [200, 'profiles'],
      }),
    },
    '/vms/{id}/terminal': {
      get: operation({
        summary: 'Web terminal: WebSocket upgrade to an SSH shell on the VM (operator; session cookie or Bearer)',
        pathParams: id,
        role: 'operator',
        ok: [101, 'switching protocols; binary frames are terminal data, text frames JSON control messages'],
      }),
    },
    '/keys/{id}': {
      delete: operation({ summary: 'Revoke an API key', pathParams: id, role: 'admin', ok: [200, 'revoked'] }),
    },
    ...projectPaths(id),
  };
}

/** Projects, quotas, trainee keys, full logs and template publishing (docs/security.md). */
function projectPaths(id: string[]): Record<string, Record<string, ReturnType<typeof operation>>> {
  const name = ['name'];
  return {
    '/projects': {
      get: operation({ summary: 'Projects with the quotas in force', role: 'admin', ok: [200, 'projects'] }),
    },
    '/projects/{name}/quotas': {
      get: operation({
        summary: "A project's quotas in force, its own overrides and what it holds (admins, or the project's keys)",
        pathParams: name,
        ok: [200, 'quotas, overrides and usage'],
      }),
      put: operation({
        summary: "Set a project's quota overrides (null: the configured default); the project is made if new",
        pathParams: name,
        body: schemaOf(projectQuotasBody),
        role: 'admin',
        ok: [200, 'quotas, overrides and usage'],
      }),
    },
    '/labs/{id}/trainee-keys': {
      post: operation({
        summary: 'A key that reads one copy of the lab (shown once; never kept in an idempotent answer)',
        pathParams: id,
        body: schemaOf(traineeKeyCreateBody),
        role: 'operator',
        ok: [201, 'the trainee key'],
      }),
      get: operation({
        summary: "The lab's trainee keys (prefixes only)",
        pathParams: id,
        role: 'operator',
        ok: [200, 'keys'],
      }),
    },
    '/labs/{id}/trainee-keys/{keyId}': {
      delete: operation({
        summary: 'Revoke a trainee key of the lab',
        pathParams: [...id, 'keyId'],
        role: 'operator',
        ok: [200, 'revoked'],
      }),
    },
    '/vms/{id}/logs': {
      get: operation({
        summary: "A VM's full log, provisioning commands and guest output included (its creator and admins)",
        pathParams: id,
        ok: [200, 'steps and events, private ones included'],
      }),
    },
    '/templates/{id}/publish': {
      post: operation({
        summary: 'Make a template usable by every project, or by its own project only again',
        pathParams: id,
        body: schemaOf(templatePublishBody),
        role: 'admin',
        ok: [200, '{id, published}'],
      }),
    },
  };
}

/** The API's OpenAPI 3.1 document, generated from the same zod schemas the routes validate with. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'Glassdome API', version: '1' },
    servers: [{ url: '/api/v1' }],
    security: [{ apiKey: [] }],
    paths: {
      ...paths(),
      ...exercisePaths(),
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Glassdome API key' } },
      responses: {
        Error: {
          description: 'An error: `{"error": {code, message, details?}}`; 400 details list `{path, message}` per field',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  error: {
                    type: 'object',
                    required: ['code', 'message'],
                    properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
