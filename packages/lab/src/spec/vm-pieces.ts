/**
 * The pieces a VM is described with, shared by lab specs and the single-VM request
 * (`POST /api/v1/vms`), so both validate a VM the same way.
 */
import { z } from 'zod';
import { linuxUserName } from './names';
import { isOpenSshPublicKey } from './ssh-key';

/** Longest shell command in `provision` or `runcmd`. */
export const MAX_COMMAND_LENGTH = 4096;
/** Largest file a provision step may write, in bytes of UTF-8. */
export const MAX_FILE_BYTES = 256 * 1024;
/** Most provision steps on one VM. */
export const MAX_PROVISION_STEPS = 100;

export const SIZE_LIMITS = {
  cpus: { min: 1, max: 64 },
  memoryMiB: { min: 256, max: 262144 },
  diskGiB: { min: 1, max: 4096 },
} as const;

function sizeField(field: keyof typeof SIZE_LIMITS, unit: string) {
  const { min, max } = SIZE_LIMITS[field];
  return z
    .number()
    .int(`must be a whole number of ${unit}`)
    .min(min, `must be at least ${min} ${unit}`)
    .max(max, `must be at most ${max} ${unit}`);
}

export const cpus = sizeField('cpus', 'vCPUs');
export const memoryMiB = sizeField('memoryMiB', 'MiB');
export const diskGiB = sizeField('diskGiB', 'GiB');

const command = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_COMMAND_LENGTH, `must be at most ${MAX_COMMAND_LENGTH} characters`)
  .refine((value) => !value.includes('\0'), 'must not contain NUL characters');

export const sshPublicKey = z
  .string()
  .refine(isOpenSshPublicKey, 'must be an OpenSSH public key line, e.g. "ssh-ed25519 AAAAC3Nza… user@host"');

const packageName = z
  .string()
  .max(128, 'must be at most 128 characters')
  .regex(/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/, 'must be a Debian package name, optionally =version');

/** What cloud-init does on first boot, before any provision step runs. */
export const cloudInit = z.strictObject({
  user: linuxUserName
    .optional()
    .describe("login user to create; provisioning connects as this user (default: the OS profile's user)"),
  sshKeys: z.array(sshPublicKey).max(32, 'at most 32 keys').default([]),
  packages: z.array(packageName).max(200, 'at most 200 packages').default([]),
  runcmd: z.array(command).max(100, 'at most 100 commands').default([]),
});

const filePath = z
  .string()
  .max(4096, 'must be at most 4096 characters')
  .regex(/^\/[^\0]*$/, 'must be an absolute path')
  .refine((path) => !path.split('/').includes('..'), 'must not contain ".." segments')
  .refine((path) => !path.endsWith('/'), 'must name a file, not a directory');

const fileContent = z
  .string()
  .refine((content) => Buffer.byteLength(content, 'utf8') <= MAX_FILE_BYTES, `must be at most ${MAX_FILE_BYTES} bytes`);

const fileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'must be octal permissions as a string, e.g. "0644" (quote it in YAML)');

/** One step of post-configuration over SSH: run a command, or write a file. Steps run in order. */
export const provisionStep = z.union(
  [
    z.strictObject({ run: command }),
    z.strictObject({ file: z.strictObject({ path: filePath, content: fileContent, mode: fileMode.optional() }) }),
  ],
  { error: 'must be {run: "command"} or {file: {path, content, mode?}}' },
);

export const provision = z
  .array(provisionStep)
  .max(MAX_PROVISION_STEPS, `at most ${MAX_PROVISION_STEPS} steps`)
  .describe('post-configuration over SSH once the VM answers, in order: {run} a command as root, or write a {file}');

/** A Proxmox template to clone: its VMID or its name. */
export const templateRef = z.union(
  [
    z
      .number()
      .int('must be a whole VMID')
      .min(100, 'VMIDs run from 100 to 999999999')
      .max(999999999, 'VMIDs run from 100 to 999999999'),
    z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/, 'must be a Proxmox VM name (letters, digits, . and -)'),
  ],
  { error: 'must be a template VMID (100–999999999) or template name' },
);

export type CloudInitInput = z.input<typeof cloudInit>;
export type ProvisionStep = z.output<typeof provisionStep>;
export type TemplateRef = z.output<typeof templateRef>;

/** cloud-init as the installer applies it: every field filled in. */
export interface CloudInit {
  user: string;
  sshKeys: string[];
  packages: string[];
  runcmd: string[];
}

/** cloud-init with its lists defaulted and the login user falling back to `defaultUser`. */
export function resolveCloudInit(given: z.output<typeof cloudInit> | undefined, defaultUser: string): CloudInit {
  return {
    user: given?.user ?? defaultUser,
    sshKeys: given?.sshKeys ?? [],
    packages: given?.packages ?? [],
    runcmd: given?.runcmd ?? [],
  };
}
