/** The facts and thresholds every reconciliation rule reads besides desired and observed state. */
export interface ReconcileOptions {
  platformId: string;
  now: Date;
  /** Share of a storage in use (0–1) above which it is reported. */
  storageThreshold: number;
  /** Seconds of uptime after which a running VM without an IP is reported. */
  noIpAfterSeconds: number;
  /** Seconds a step may stay running before it is reported stuck. */
  stepBoundSeconds: number;
  /** Ids of VMs whose SSH port did not answer this scan. */
  sshUnreachable: ReadonlySet<string>;
  /** Current config digest of each template VMID that was read this scan. */
  templateDigests: ReadonlyMap<number, string>;
}
