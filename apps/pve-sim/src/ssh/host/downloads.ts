/**
 * `wget` and `curl` on the simulated node. There is no network: URLs of the public cloud-image
 * mirrors template creation uses are "downloaded" as small placeholder files, so `test -f`, `ls`,
 * `sha256sum` and `qm set --scsi0 …,import-from=` see them; anything else fails to resolve.
 */
import { posix } from 'node:path';
import type { Command, CommandOutcome, Shell } from '../shell/interpreter';
import { PermissionDeniedError } from '../shell/interpreter';
import { VirtualFsError } from '../shell/virtual-fs';

/** Mirrors whose images can be fetched; the file name picks the guest OS later. */
const imageHosts = ['cloud-images.ubuntu.com', 'cloud.debian.org', 'kali.download', 'cdimage.kali.org'];

/** The placeholder content of a downloaded image: a qcow2 magic and where it came from. */
function placeholderImage(url: URL): Buffer {
  return Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.from(`\npve-sim placeholder of ${url.href}\n`)]);
}

function resolveImage(address: string): { url: URL; content: Buffer } | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  const isImage = /\.(img|qcow2|raw|tar\.xz|iso)$/.test(url.pathname);
  if (!imageHosts.includes(url.hostname) || !isImage) return undefined;
  return { url, content: placeholderImage(url) };
}

function save(shell: Shell, path: string, content: Buffer, tool: string): CommandOutcome | undefined {
  try {
    shell.writeFile(path, content);
    return undefined;
  } catch (error) {
    if (error instanceof VirtualFsError || error instanceof PermissionDeniedError) {
      const reason = error instanceof VirtualFsError ? error.reason : 'Permission denied';
      return tool === 'wget'
        ? { stderr: `${path}: ${reason}\n`, code: 3 }
        : { stderr: `curl: (23) Failure writing output to destination\n`, code: 23 };
    }
    throw error;
  }
}

/** `wget [-q] [-O file] [-P dir] [-nc] URL` */
export const wget: Command = ({ argv, shell }) => {
  let output: string | undefined;
  let directory = '.';
  let quiet = false;
  const urls: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-O' || arg === '--output-document') output = argv[++i];
    else if (arg.startsWith('--output-document=')) output = arg.slice(18);
    else if (arg === '-P' || arg === '--directory-prefix') directory = argv[++i] ?? '.';
    else if (arg === '-q' || arg === '--quiet') quiet = true;
    else if (!arg.startsWith('-')) urls.push(arg);
  }
  if (urls.length === 0) return { stderr: 'wget: missing URL\n', code: 1 };
  let stderr = '';
  for (const address of urls) {
    const image = resolveImage(address);
    if (!image) {
      const host = URL.canParse(address) ? new URL(address).hostname : address;
      return { stderr: `${stderr}wget: unable to resolve host address '${host}'\n`, code: 4 };
    }
    const target = output ?? posix.join(directory, posix.basename(image.url.pathname));
    if (target === '-') return { stdout: image.content.toString('latin1') };
    const failed = save(shell, target, image.content, 'wget');
    if (failed) return failed;
    if (!quiet)
      stderr += `Saving to: '${target}'\n\n'${target}' saved [${image.content.length}/${image.content.length}]\n`;
  }
  return { stderr };
};

/** `curl [-fsSL] [-o file | -O] URL` */
export const curl: Command = ({ argv, shell }) => {
  let output: string | undefined;
  let remoteName = false;
  const urls: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-o' || arg === '--output') output = argv[++i];
    else if (arg === '-O' || arg === '--remote-name') remoteName = true;
    else if (!arg.startsWith('-')) urls.push(arg);
  }
  const address = urls[0];
  if (!address) return { stderr: 'curl: no URL specified!\n', code: 2 };
  const image = resolveImage(address);
  if (!image) {
    const host = URL.canParse(address) ? new URL(address).hostname : address;
    return { stderr: `curl: (6) Could not resolve host: ${host}\n`, code: 6 };
  }
  const target = output ?? (remoteName ? posix.basename(image.url.pathname) : undefined);
  if (!target || target === '-') return { stdout: image.content.toString('latin1') };
  return save(shell, target, image.content, 'curl') ?? {};
};
