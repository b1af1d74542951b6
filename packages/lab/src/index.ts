/**
 * @glassdome/lab — the lab spec (schema, parsing, validation), its task graph (compilation,
 * readiness, critical path), its network side (addressing, the Proxmox firewall compiler, the
 * reachability matrix) and the built-in lab catalog. Pure: no I/O.
 */
export { LAB_CATALOG, type LabCatalogEntry, resolveCatalogTemplate } from './catalog';
export {
  type ApplyResult,
  applyLabParameters,
  describeLabParameters,
  type LabParameters,
  labParametersSchema,
  type ParameterDeclaration,
  type SizeBounds,
  sizeRange,
  type TraineeAccess,
  traineeKeysOf,
} from './exercise/parameters';
export {
  INITIAL_SNAPSHOT,
  snapshotName,
  TESTING_SNAPSHOT_PREFIX,
  testingSnapshotName,
  userSnapshotName,
} from './exercise/snapshots';
export {
  MAX_TESTING_SECONDS,
  type TestingModeRequest,
  testingModeRequest,
  withEgressOverride,
} from './exercise/testing-mode';
export {
  compileLabFirewall,
  ipfilterSetName,
  LAB_VM_FIREWALL_OPTIONS,
  MANAGEMENT_IPSET,
  NO_EGRESS_IPSET,
} from './firewall/compile';
export {
  type FirewallContext,
  FirewallContextError,
  type ManagementAccess,
} from './firewall/context';
export { type FirewallReadBack, labFirewallDigest, vmFirewallDigest } from './firewall/digest';
export {
  evaluateFirewall,
  type FirewallPacket,
  type FirewallVerdict,
  type FirewallView,
} from './firewall/evaluate';
export {
  PVE_ADDRESS_MAX_LENGTH,
  PVE_DPORT_MAX_NUMBERS,
  PVE_GROUP_NAME,
  PVE_IPSET_NAME,
  pveRuleProblems,
} from './firewall/limits';
export { nicEssentials, nicLines, vmNicDigest } from './firewall/nics';
export type {
  LabFirewall,
  PveFirewallOptions,
  PveFirewallRule,
  PveIpset,
  PveIpsetEntry,
  VmFirewall,
} from './firewall/types';
export {
  compileLabGraph,
  configureTaskId,
  ISOLATION_TASK_ID,
  isolationTaskId,
  networkTaskId,
  provisionTaskId,
} from './graph/compile';
export {
  type CriticalPath,
  criticalPath,
  NOMINAL_TASK_MS,
  nominalRemainingPath,
  remainingCriticalPaths,
} from './graph/critical-path';
export { describeCycle, findCycle } from './graph/cycle';
export { LabGraphCycleError, LabGraphError } from './graph/errors';
export {
  dependentsOf,
  readyAfter,
  readyAfterReads,
  rootTasks,
  taskById,
  topologicalOrder,
  transitiveDependents,
} from './graph/queries';
export type { LabGraph, LabTask, LabTaskKind } from './graph/types';
export { labSpecJsonSchema, vmRequestJsonSchema } from './json-schema';
export * from './lifecycle/states';
export {
  ipconfigValue,
  type LabAddressing,
  type LabRoute,
  labAddressing,
  type NicAddressing,
  routerAddressOf,
  type VmAddressing,
} from './network/addressing';
export { type EgressAllowance, egressAllowance } from './network/egress';
export { type CopyDemand, type NodeCapacity, type PlacementResult, placeCopies } from './placement/place';
export { type Expectation, expectEgress, expectLabTraffic, type ProbeReason } from './reachability/expectations';
export { type OutsideTarget, type ReachabilityOptions, reachabilityMatrix } from './reachability/matrix';
export { probeKey, type ReachabilityProbe } from './reachability/probes';
export { type DeployedCopy, type DeployedLab, type WalkResult, walkProbe } from './reachability/walk';
export { decodeSpecText, MAX_SPEC_TEXT_LENGTH, type SpecContentType } from './spec/decode';
export { durationSeconds, formatDuration } from './spec/duration';
export { instanceNames } from './spec/instances';
export { contains, parseCidr } from './spec/ipv4';
export type { ParseResult, SpecIssue } from './spec/issues';
export {
  type LabSpecInput,
  labSpecSchema,
  MAX_EGRESS_ENTRIES,
  MAX_RULE_PORTS,
  MAX_SPEC_RULES,
} from './spec/lab-schema';
export { resourceName } from './spec/names';
export {
  defaultTemplateVmid,
  OS_NAMES,
  OS_PROFILES,
  type OsName,
  type OsProfile,
  osName,
} from './spec/os-profiles';
export { type ParseLabSpecOptions, parseLabSpec } from './spec/parse';
export {
  EGRESS_ENTRY_PATTERN,
  type EgressEntry,
  formatPortSpec,
  NEVER_EGRESS_RANGES,
  PORT_SPEC_PATTERN,
  type PortRange,
  type PortSpec,
  type Protocol,
  parseEgressEntry,
  parsePortSpec,
} from './spec/policy';
export { DEFAULT_QUOTAS, type Quotas } from './spec/quotas';
export type { EgressPolicy, LabNetwork, LabRule, LabSpec, LabVm, VmNetworkAttachment } from './spec/resolve';
export {
  type LabSourceRef,
  parseSavedLabSpec,
  parseStoredLabGraph,
  parseStoredLabSource,
  parseStoredLabSpec,
  StoredSpecError,
  storedLabGraphSchema,
  storedLabSourceSchema,
  storedLabSpecSchema,
} from './spec/stored-lab-spec';
export { parseStoredVmSpec, type StoredVmSpec, storedVmSpec, storedVmSpecSchema } from './spec/stored-vm-spec';
export { type LabTotals, labTotals } from './spec/totals';
export { type CloudInit, cloudInit, type ProvisionStep, provisionStep } from './spec/vm-pieces';
export { parseVmRequest, type VmRequest, type VmRequestInput, vmRequestSchema } from './spec/vm-request';
