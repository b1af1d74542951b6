export { type BackingServices, connectBackingServices, exitWhenUnavailable } from './backing';
export { ensureGuestKey, type GuestKey } from './guest-key';
export { recloneLabVm, startNextLabRun } from './lab-rerun';
export {
  beginLabTask,
  completeLabTask,
  failLabTask,
  findTask,
  type LabRecord,
  LabStoppedError,
  loadLab,
  STOPPED_LAB_STATUSES,
  taskDetail,
} from './lab-tasks';
export { DEFAULT_PLATFORM, ensurePlatform } from './platform';
export { nodeSshTarget, type ProxmoxEnv, proxmoxConfigFrom } from './proxmox';
export { serveQueues, type WorkerProcessEnv } from './worker-process';
