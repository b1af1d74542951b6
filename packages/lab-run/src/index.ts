/**
 * @glassdome/lab-run — the owner of the lab and VM lifecycles. The state machines are declared in
 * `@glassdome/lab` (pure); this package is the only code that applies them: every status change of a
 * lab or VM is one of its named transitions (`transitions.ts`), every lab task runs inside
 * `runLabTask`, and the lab actions (start, cancel, retry, re-clone, destroy) live here.
 */
export {
  cancelLab,
  type LabRun,
  LabTransitionRefused,
  markLabDestroyed,
  recloneLabVm,
  requestLabDestroy,
  requestVmDestroy,
  retryLab,
} from './actions';
export type { LabRunContext } from './context';
export {
  type LabDeployRecord,
  type LabSourceRef,
  labVmInstances,
  type RecordedLab,
  type ResolvedSource,
  recordLabDeploy,
  resolveLabSource,
} from './deploy';
export { type LabRecord, LabStoppedError, loadLab, loadLabSpec } from './lab-record';
export {
  afterLabSettled,
  loadOperation,
  OperationRefused,
  type OperationTarget,
  type RequestedOperation,
  recordOperation,
  requestRevert,
  requestSnapshot,
  requestSnapshotDelete,
  type SnapshotRequest,
  settleRevert,
  snapshotInTransaction,
  vmsOfTarget,
} from './operations';
export { destroyIntent, labRunIntent, writeIntent } from './outbox';
export {
  type ClaimedCopy,
  claimFromPool,
  deletePoolWithCopies,
  type FillResult,
  fillPool,
  type PoolClaim,
  requestPoolFill,
} from './pools';
export {
  failStuckLab,
  failStuckVm,
  REDRIVE_EVENT,
  redriveDestroy,
  redriveLab,
  redriveVmDeploy,
} from './redrive';
export { settleLab, settleVmsOfStoppedLab } from './settle';
export { type LabTaskOptions, type LabTaskOutcome, type LabTaskWork, runLabTask, taskDetail } from './tasks';
export { requestTestingStart, requestTestingStop, type TestingState, testingOf } from './testing';
export { moveLab, moveVm, moveVmsOfLab, type TransitionOptions, vmStatusChange } from './transitions';
export {
  checkVmStillWanted,
  type StopWatch,
  stoppedBy,
  VmStoppedError,
  vmStopReason,
  watchForStop,
} from './watch';
