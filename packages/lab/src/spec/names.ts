import { z } from 'zod';

/**
 * A name Proxmox accepts as a VM name (its `dns-name` format: letters, digits, hyphens, no
 * underscores) and DNS accepts as one label, lowercased so two spellings never name two things.
 * Labs, networks and VMs share this rule, so every name can appear in a hostname.
 */
export const RESOURCE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Longest resource name: one DNS label. */
export const MAX_RESOURCE_NAME_LENGTH = 63;

export const resourceName = z
  .string()
  .min(1, { message: 'must not be empty', abort: true })
  .max(MAX_RESOURCE_NAME_LENGTH, { message: `must be at most ${MAX_RESOURCE_NAME_LENGTH} characters`, abort: true })
  .regex(
    RESOURCE_NAME_PATTERN,
    'must be lowercase letters, digits and hyphens, not starting or ending with a hyphen (e.g. web-01)',
  );

/** A Linux login name as useradd and cloud-init accept it by default. */
export const linuxUserName = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Linux user name: lowercase, digits, _ or -, at most 32 characters');
