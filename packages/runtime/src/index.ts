export { type BackingServices, connectBackingServices, exitWhenUnavailable } from './backing';
export { ensureGuestKey, type GuestKey } from './guest-key';
export { DEFAULT_PLATFORM, ensurePlatform } from './platform';
export { nodeSshTarget, type ProxmoxEnv, proxmoxConfigFrom } from './proxmox';
