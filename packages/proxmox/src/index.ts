export {
  AccessApi,
  type AclEntry,
  type AclGrant,
  type ApiToken,
  type CreatedToken,
  type PveUser,
  type Role,
} from './access';
export {
  Admission,
  type AdmissionHolds,
  type AdmissionLimits,
  type AdmissionOptions,
  type AdmissionWaits,
  type CloneSlotRequest,
  defaultAdmissionLimits,
} from './admission';
export {
  AgentApi,
  type AgentIp,
  firstGlobalIPv4,
  type GuestAddress,
  type GuestInterface,
  isGlobalUnicastIPv4,
  type WaitForAgentIpOptions,
} from './agent';
export { classifyAnswer, classifyText } from './classify';
export { type HttpMethod, ProxmoxClient, type RequestOptions } from './client';
export { type ClonedVm, type CloneVmDeps, type CloneVmRequest, cloneVm } from './clone-vm';
export {
  ClusterApi,
  type ClusterResource,
  type ClusterResourceType,
  type NetworkInterface,
  type NodeInfo,
  type StorageInfo,
} from './cluster';
export type { PollingPolicy, ProxmoxConfig, TicketAuth, TlsTrust, TokenAuth } from './config';
export { decodeSshKeys, encodeParams, encodeSshKeys, type Params, type ParamValue } from './encoding';
export * from './errors';
export {
  FirewallApi,
  type FirewallIpsetInput,
  type FirewallRuleInput,
  type VmFirewallInput,
  type VmFirewallState,
} from './firewall';
export { createProxmox, type Proxmox } from './proxmox';
export { defaultRetryPolicy, type RetryPolicy, withRetry } from './retry';
export {
  isSuccessfulExit,
  parseUpid,
  TaskApi,
  type TaskLogLine,
  type TaskStatus,
  type Upid,
  type WaitForTaskOptions,
} from './tasks';
export { normalizeFingerprint } from './tls';
export {
  parseVlanRange,
  VlanAllocator,
  type VlanAllocatorOptions,
  type VlanLease,
  type VlanLeaseStore,
  type VlanRange,
  vnetIdOfTag,
} from './vlan';
export { toVmConfig, type VmConfig, type VmConfigUpdate, type VmNic, type VmStatus, type VmSummary } from './vm-types';
export {
  type LeaseRequest,
  VmidAllocator,
  type VmidAllocatorOptions,
  type VmidLease,
  type VmidLeaseStore,
  type VmidRange,
} from './vmid';
export { type CloneRequest, type PowerAction, type Snapshot, VmApi } from './vms';
