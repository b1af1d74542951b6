export { type BackingServices, connectBackingServices, exitWhenUnavailable } from './backing';
export {
  ensureGuestKey,
  forgetLabCopyKeys,
  type GuestKey,
  type GuestKeyOwner,
  GuestKeys,
  labCopyGuestKey,
} from './guest-key';
export { OutboxRelay, type OutboxRelayOptions } from './outbox-relay';
export { DEFAULT_PLATFORM, ensurePlatform } from './platform';
export { nodeSshTarget, type ProxmoxEnv, proxmoxConfigFrom } from './proxmox';
export { serveQueues, type WorkerProcessEnv } from './worker-process';
