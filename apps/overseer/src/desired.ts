/** Desired state of one platform as Postgres records it: the rows reconciliation compares against. */
import {
  type Db,
  listLabsOfPlatform,
  listRunningStepsOfPlatform,
  listTemplatesOfPlatform,
  listVmsOfPlatformWithLabStatus,
} from '@glassdome/db';

export interface DesiredVm {
  id: string;
  name: string;
  labId: string | null;
  /** The owning lab's status, when the VM belongs to a lab. */
  labStatus: string | null;
  status: string;
  desiredState: string;
  vmid: number | null;
  node: string;
  ip: string | null;
}

export interface DesiredLab {
  id: string;
  name: string;
  status: string;
  expiresAt: Date | null;
}

export interface DesiredTemplate {
  id: string;
  node: string;
  os: string;
  vmid: number;
  name: string;
  /** Proxmox's config digest when the template was built; a different one means it was edited. */
  configDigest: string | null;
}

export interface RunningStep {
  vmId: string | null;
  labId: string | null;
  name: string;
  startedAt: Date;
}

export interface DesiredState {
  vms: DesiredVm[];
  labs: DesiredLab[];
  templates: DesiredTemplate[];
  runningSteps: RunningStep[];
}

/** Every VM not yet destroyed, with its lab's status. */
async function loadVms(db: Db, platformId: string): Promise<DesiredVm[]> {
  const rows = await listVmsOfPlatformWithLabStatus(db, platformId, ['destroyed']);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    labId: row.lab_id,
    labStatus: row.lab_status,
    status: row.status,
    desiredState: row.desired_state,
    vmid: row.vmid,
    node: row.node,
    ip: row.ip,
  }));
}

export async function loadDesiredState(db: Db, platformId: string): Promise<DesiredState> {
  const [vms, labs, templates, runningSteps] = await Promise.all([
    loadVms(db, platformId),
    listLabsOfPlatform(db, platformId, ['destroying', 'destroyed']),
    listTemplatesOfPlatform(db, platformId, 'ready'),
    listRunningStepsOfPlatform(db, platformId),
  ]);
  return {
    vms,
    labs: labs.map((lab) => ({ id: lab.id, name: lab.name, status: lab.status, expiresAt: lab.expires_at })),
    templates: templates.map(({ config_digest, ...template }) => ({ ...template, configDigest: config_digest })),
    runningSteps: runningSteps.map((step) => ({
      vmId: step.vm_id,
      labId: step.lab_id,
      name: step.name,
      startedAt: step.started_at as Date,
    })),
  };
}
