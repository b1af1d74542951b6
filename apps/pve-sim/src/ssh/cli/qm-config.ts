/**
 * `qm create`, `qm set` and `qm importdisk`: the config-writing commands, with the CLI-only
 * behaviours around them (reading `--sshkeys` from a file, checking `import-from` paths on the
 * node's filesystem, printing the disks the update created).
 */

import type { CommandOutcome } from '../shell/interpreter';
import { VirtualFsError } from '../shell/virtual-fs';
import type { ParsedCommandLine } from './options';
import { type CliCommand, type CliContext, CliFailure, callApi, followTask } from './program';
import { vmBooleanKeys, vmConfigKeys } from './vm-keys';

const diskKey = /^(scsi|virtio|sata|ide)\d+$|^(efidisk|tpmstate)0$/;

type VmConfig = Record<string, string | number>;

/** Reads `--sshkeys <file>` from the node and URI-encodes it, as qm's CLI parameter mapping does. */
function readSshKeysFile(context: CliContext, options: Record<string, string>): Record<string, string> {
  if (options.sshkeys === undefined) return options;
  try {
    const keys = context.shell.fs.readFile(context.shell.resolve(options.sshkeys)).toString();
    return { ...options, sshkeys: encodeURIComponent(keys) };
  } catch (error) {
    if (!(error instanceof VirtualFsError)) throw error;
    throw new CliFailure(`unable to open file '${options.sshkeys}' - ${error.reason}`);
  }
}

/** The `import-from` sources among disk options. */
function importSources(options: Record<string, string>): string[] {
  return Object.entries(options).flatMap(([key, value]) => {
    const source = diskKey.test(key) ? /(?:^|,)import-from=([^,]+)/.exec(value)?.[1] : undefined;
    return source ? [source] : [];
  });
}

/** Absolute `import-from` sources must exist on the node (qemu-server asks the storage layer). */
function checkImportSources(context: CliContext, options: Record<string, string>) {
  for (const source of importSources(options)) {
    if (source.startsWith('/') && context.shell.fs.stat(source)?.type !== 'file') {
      throw new CliFailure(`can't find file '${source}'`);
    }
  }
}

function recordImports(context: CliContext, vmid: string, options: Record<string, string>) {
  for (const source of importSources(options)) context.provenance.record(Number(vmid), source);
}

function prepareConfigOptions(context: CliContext, options: Record<string, string>): Record<string, string> {
  const prepared = readSshKeysFile(context, options);
  checkImportSources(context, prepared);
  return prepared;
}

async function readConfig(context: CliContext, vmid: string): Promise<VmConfig> {
  return (await callApi(context, 'GET', `/nodes/${context.node}/qemu/${vmid}/config`)) as VmConfig;
}

/** The lines `qm set` prints for disks it allocated or imported: progress, then `successfully created disk`. */
function createdDiskLines(given: Record<string, string>, before: VmConfig, after: VmConfig): string {
  let out = '';
  for (const key of Object.keys(given).filter((name) => diskKey.test(name))) {
    const now = after[key];
    if (now === undefined || now === before[key] || now === given[key]) continue;
    const size = /(?:^|,)size=([^,]+)/.exec(String(now))?.[1];
    if (given[key]!.includes('import-from=') && size) {
      out += `transferred 0.0 B of ${size} (0.00%)\ntransferred ${size} of ${size} (100.00%)\n`;
    }
    out += `${key}: successfully created disk '${now}'\n`;
  }
  return out;
}

const setCommand: CliCommand = {
  words: ['set'],
  spec: {
    positional: ['vmid'],
    options: [...vmConfigKeys, 'delete', 'revert', 'digest', 'skiplock', 'force'],
    booleans: [...vmBooleanKeys, 'skiplock', 'force'],
  },
  async run(context, { positional, options }) {
    const params = prepareConfigOptions(context, options);
    const shown = Object.entries(params)
      .map(([key, value]) => `-${key} ${value}`)
      .join(' ');
    const before = await readConfig(context, positional.vmid!);
    await callApi(context, 'PUT', `/nodes/${context.node}/qemu/${positional.vmid}/config`, params);
    recordImports(context, positional.vmid!, params);
    const after = await readConfig(context, positional.vmid!);
    return { stdout: `update VM ${positional.vmid}: ${shown}\n${createdDiskLines(params, before, after)}` };
  },
};

const createCommand: CliCommand = {
  words: ['create'],
  spec: {
    positional: ['vmid'],
    options: [...vmConfigKeys, 'storage', 'pool', 'start', 'archive', 'force', 'unique', 'live-restore', 'bwlimit'],
    booleans: [...vmBooleanKeys, 'start', 'force', 'unique', 'live-restore'],
  },
  async run(context, { positional, options }) {
    const params = { ...prepareConfigOptions(context, options), vmid: positional.vmid! };
    const outcome = await followTask(context, await callApi(context, 'POST', `/nodes/${context.node}/qemu`, params));
    if (!outcome.code) recordImports(context, positional.vmid!, params);
    return outcome;
  },
};

/**
 * `qm importdisk <vmid> <source> <storage>` (= `qm disk import`): imports into `--target-disk` or,
 * without one, into a scratch slot that is then detached, which leaves the new volume as `unusedN`
 * exactly as PVE does.
 */
async function importDisk(context: CliContext, { positional, options }: ParsedCommandLine): Promise<CommandOutcome> {
  const { vmid, source, storage } = positional as { vmid: string; source: string; storage: string };
  if (context.shell.fs.stat(source)?.type !== 'file') {
    throw new CliFailure(`${source}: non-existent or non-regular file`);
  }
  const path = `/nodes/${context.node}/qemu/${vmid}/config`;
  const before = await readConfig(context, vmid);
  const slot = options['target-disk'] ?? ['sata5', 'sata4', 'sata3'].find((key) => before[key] === undefined)!;
  const format = options.format ? `,format=${options.format}` : '';
  const sourcePath = context.shell.resolve(source);
  await callApi(context, 'PUT', path, { [slot]: `${storage}:0,import-from=${sourcePath}${format}` });
  context.provenance.record(Number(vmid), sourcePath);
  if (!options['target-disk']) await callApi(context, 'PUT', path, { delete: slot });
  const after = await readConfig(context, vmid);
  const newKey = Object.keys(after).find((key) => key !== 'digest' && after[key] !== before[key] && key !== slot);
  const key = options['target-disk'] ?? newKey ?? slot;
  const volume = String(after[key] ?? '').split(',')[0];
  return {
    stdout: `importing disk '${source}' to VM ${vmid} ...\n${key}: successfully imported disk '${volume}'\n`,
  };
}

const importSpec = { positional: ['vmid', 'source', 'storage'], options: ['format', 'target-disk'] };

export const qmConfigCommands: CliCommand[] = [
  createCommand,
  setCommand,
  { words: ['disk', 'import'], aliases: [['importdisk']], spec: importSpec, run: importDisk },
];
