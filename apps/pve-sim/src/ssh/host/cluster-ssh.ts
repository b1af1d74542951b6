/**
 * `ssh` from one cluster node to another. PVE nodes trust each other's root key (the shared
 * `/etc/pve/priv/authorized_keys`; migrations and `pvecm` use it), so `ssh [root@]<node> <command>`
 * runs the command on that node's shell and returns its output and exit status. Only the
 * cluster's node names resolve; nothing ever leaves the simulator. The client side follows
 * OpenSSH 9.2 (Debian 12, what PVE 8 ships): its option parsing, its messages and exit status 255
 * for its own failures.
 */
import type { Simulator } from '../../sim';
import { nodeAt } from '../../state/node-address';
import { sha256Fingerprint } from '../server/keys';
import type { Command, CommandOutcome, Shell } from '../shell/interpreter';
import type { VirtualFs } from '../shell/virtual-fs';
import { hashedKnownHostsLine, knownKeysFor, nodeHostKeyLine } from './known-hosts';

const USAGE = `usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface]
           [-b bind_address] [-c cipher_spec] [-D [bind_address:]port]
           [-E log_file] [-e escape_char] [-F configfile] [-I pkcs11]
           [-i identity_file] [-J [user@]host[:port]] [-L address]
           [-l login_name] [-m mac_spec] [-O ctl_cmd] [-o option] [-p port]
           [-Q query_option] [-R address] [-S ctl_path] [-W host:port]
           [-w local_tun[:remote_tun]] destination [command [argument ...]]
`;

const VERSION = 'OpenSSH_9.2p1 Debian-2+deb12u5, OpenSSL 3.0.16 11 Feb 2025\n';

/** ssh's getopt letters: flags, and the ones taking an argument. */
const FLAGS = new Set('46AaCfGgKkMNnqsTtVvXxYy');
const WITH_ARGUMENT = new Set('BbcDEeFIiJLlmOopQRSWw');

/** ssh_config keywords `-o` accepts (lower case, as OpenSSH compares them). */
const CONFIG_KEYWORDS = new Set(
  [
    'AddKeysToAgent AddressFamily BatchMode BindAddress BindInterface CanonicalDomains',
    'CanonicalizeFallbackLocal CanonicalizeHostname CanonicalizeMaxDots CanonicalizePermittedCNAMEs',
    'CASignatureAlgorithms CertificateFile CheckHostIP Ciphers ClearAllForwardings Compression',
    'ConnectionAttempts ConnectTimeout ControlMaster ControlPath ControlPersist DynamicForward',
    'EnableEscapeCommandline EnableSSHKeysign EscapeChar ExitOnForwardFailure FingerprintHash',
    'ForkAfterAuthentication ForwardAgent ForwardX11 ForwardX11Timeout ForwardX11Trusted GatewayPorts',
    'GlobalKnownHostsFile GSSAPIAuthentication GSSAPIDelegateCredentials GSSAPIKexAlgorithms',
    'GSSAPIKeyExchange GSSAPIRenewalForcesRekey GSSAPITrustDns HashKnownHosts Host',
    'HostbasedAcceptedAlgorithms HostbasedAuthentication HostKeyAlgorithms HostKeyAlias Hostname',
    'IdentitiesOnly IdentityAgent IdentityFile IgnoreUnknown Include IPQoS KbdInteractiveAuthentication',
    'KbdInteractiveDevices KexAlgorithms KnownHostsCommand LocalCommand LocalForward LogLevel',
    'LogVerbose MACs Match NoHostAuthenticationForLocalhost NumberOfPasswordPrompts',
    'PasswordAuthentication PermitLocalCommand PermitRemoteOpen PKCS11Provider Port',
    'PreferredAuthentications ProxyCommand ProxyJump ProxyUseFdpass PubkeyAcceptedAlgorithms',
    'PubkeyAcceptedKeyTypes PubkeyAuthentication RekeyLimit RemoteCommand RemoteForward RequestTTY',
    'RequiredRSASize RevokedHostKeys SecurityKeyProvider SendEnv ServerAliveCountMax',
    'ServerAliveInterval SessionType SetEnv StdinNull StreamLocalBindMask StreamLocalBindUnlink',
    'StrictHostKeyChecking SyslogFacility TCPKeepAlive Tunnel TunnelDevice UpdateHostKeys User',
    'UserKnownHostsFile VerifyHostKeyDNS VisualHostKey XAuthLocation',
  ]
    .join(' ')
    .split(' ')
    .map((word) => word.toLowerCase()),
);

const YES_NO = ['yes', 'no', 'true', 'false'];
/** Keywords whose value OpenSSH checks against a fixed list (the ones scripts set most). */
const CHOICES: Record<string, string[]> = {
  batchmode: YES_NO,
  stricthostkeychecking: [...YES_NO, 'ask', 'accept-new', 'off'],
  requesttty: [...YES_NO, 'force', 'auto'],
  loglevel: ['quiet', 'fatal', 'error', 'info', 'verbose', 'debug', 'debug1', 'debug2', 'debug3'],
};

class SshFailure extends Error {}

interface SshLine {
  host: string;
  user: string | undefined;
  /** The first one given wins, as with every ssh option. */
  port: number | undefined;
  command: string[];
  stdinNull: boolean;
  quiet: boolean;
  /** `-T` no, `-t` yes, `-tt` force. */
  requestTty: 'auto' | 'no' | 'yes' | 'force';
  version: boolean;
  noCommand: boolean;
  batchMode: boolean | undefined;
  strictHostKeyChecking: 'yes' | 'ask' | 'accept-new' | 'off' | undefined;
  hostKeyAlias: string | undefined;
  /** The files as given (`~` not expanded yet); `none` leaves none. */
  userKnownHostsFiles: string[] | undefined;
  globalKnownHostsFiles: string[] | undefined;
  /** Seconds; set, an unreachable node times out instead of answering `No route to host`. */
  connectTimeout: number | undefined;
}

/** One `-o` option: checks the keyword (and the value of a few) and applies what the client uses. */
function applyConfigOption(line: SshLine, text: string): void {
  const match = /^\s*([^\s=]+)\s*(?:=\s*|\s+)?(.*)$/s.exec(text);
  const keyword = (match?.[1] ?? '').toLowerCase();
  const value = (match?.[2] ?? '').trim();
  if (!CONFIG_KEYWORDS.has(keyword)) throw new SshFailure(`command-line: line 0: Bad configuration option: ${keyword}`);
  if (value === '') throw new SshFailure(`command-line line 0: no argument after keyword "${keyword}"`);
  const choices = CHOICES[keyword];
  if (choices && !choices.includes(value.toLowerCase())) {
    throw new SshFailure(`command-line line 0: unsupported option "${value}".`);
  }
  if (keyword === 'user') line.user ??= value;
  if (keyword === 'port') line.port ??= parsePort(value, `command-line line 0: Bad port '${value}'.`);
  if (keyword === 'loglevel' && value.toLowerCase() === 'quiet') line.quiet = true;
  if (keyword === 'requesttty') {
    const wanted = value.toLowerCase();
    line.requestTty =
      wanted === 'force' ? 'force' : wanted === 'auto' ? 'auto' : /^(no|false)$/.test(wanted) ? 'no' : 'yes';
  }
  if (keyword === 'stdinnull' && /^(yes|true)$/i.test(value)) line.stdinNull = true;
  // Like every ssh option, the first value given is the one used.
  if (keyword === 'batchmode') line.batchMode ??= /^(yes|true)$/i.test(value);
  if (keyword === 'stricthostkeychecking') {
    const wanted = value.toLowerCase();
    line.strictHostKeyChecking ??=
      wanted === 'yes' || wanted === 'true'
        ? 'yes'
        : wanted === 'ask'
          ? 'ask'
          : wanted === 'accept-new'
            ? 'accept-new'
            : 'off';
  }
  if (keyword === 'hostkeyalias') line.hostKeyAlias ??= value;
  if (keyword === 'userknownhostsfile') line.userKnownHostsFiles ??= fileList(value);
  if (keyword === 'globalknownhostsfile') line.globalKnownHostsFiles ??= fileList(value);
  if (keyword === 'connecttimeout') {
    // ssh's convtime: numbers with an optional unit each (`90`, `1m30s`).
    if (!/^(\d+[smhdw]?)+$/i.test(value)) throw new SshFailure('command-line line 0: invalid time value.');
    const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
    let seconds = 0;
    for (const [, count, unit] of value.matchAll(/(\d+)([smhdw]?)/gi)) {
      seconds += Number(count) * (units[(unit || 's').toLowerCase()] ?? 1);
    }
    line.connectTimeout ??= seconds;
  }
}

/** A known-hosts file list: words split on blanks (double quotes keep one together), `none` for none. */
function fileList(value: string): string[] {
  const words = [...value.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2] ?? '');
  return words.length === 1 && words[0] === 'none' ? [] : words;
}

function parsePort(text: string, message: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : 0;
  if (port < 1 || port > 65535) throw new SshFailure(message);
  return port;
}

function applyOption(line: SshLine, letter: string, value: string): void {
  switch (letter) {
    case 'l':
      line.user ??= value;
      break;
    case 'p':
      line.port ??= parsePort(value, `Bad port '${value}'`);
      break;
    case 'o':
      applyConfigOption(line, value);
      break;
    case 'e':
      if (value !== 'none' && value.length !== 1 && !/^\^.$/.test(value)) {
        throw new SshFailure(`Bad escape character '${value}'.`);
      }
      break;
    case 'n':
      line.stdinNull = true;
      break;
    case 'q':
      line.quiet = true;
      break;
    case 'T':
      line.requestTty = 'no';
      break;
    case 't':
      line.requestTty = line.requestTty === 'yes' ? 'force' : 'yes';
      break;
    case 'V':
      line.version = true;
      break;
    case 'N':
      line.noCommand = true;
      break;
  }
}

/**
 * Parses ssh's arguments as its getopt loop does: bundled flags (`-qT`), arguments attached or
 * separate (`-p22`, `-o BatchMode=yes`), options again after the destination until the first
 * other word (which starts the command) or `--`.
 */
function parseSshArgs(args: string[]): SshLine | { usage: string } {
  const line: SshLine = {
    host: '',
    user: undefined,
    port: undefined,
    command: [],
    stdinNull: false,
    quiet: false,
    requestTty: 'auto',
    version: false,
    noCommand: false,
    batchMode: undefined,
    strictHostKeyChecking: undefined,
    hostKeyAlias: undefined,
    userKnownHostsFiles: undefined,
    globalKnownHostsFiles: undefined,
    connectTimeout: undefined,
  };
  let destination: string | undefined;
  const take = (word: string): string => {
    // The destination's user counts where it stands: an earlier -l or User= wins over it.
    const at = word.lastIndexOf('@');
    if (at >= 0) line.user ??= word.slice(0, at);
    return word;
  };
  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      if (destination === undefined && i < args.length) destination = take(args[i++]!);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (destination !== undefined) break;
      destination = take(arg);
      i++;
      continue;
    }
    i++;
    for (let at = 1; at < arg.length; at++) {
      const letter = arg[at]!;
      if (FLAGS.has(letter)) {
        applyOption(line, letter, '');
        continue;
      }
      if (!WITH_ARGUMENT.has(letter)) return { usage: `unknown option -- ${letter}\n${USAGE}` };
      let value = arg.slice(at + 1);
      if (value === '') {
        if (i >= args.length) return { usage: `option requires an argument -- ${letter}\n${USAGE}` };
        value = args[i++]!;
      }
      applyOption(line, letter, value);
      break;
    }
  }
  if (line.version) return line;
  if (destination === undefined) return { usage: USAGE };
  const at = destination.lastIndexOf('@');
  if (at === 0) return { usage: USAGE };
  line.command = args.slice(i);
  line.host = destination.slice(at + 1);
  return line;
}

const HOME = '/root';

/** A known-hosts path as ssh opens it: `~` is root's home. */
function expandTilde(path: string): string {
  return path === '~' ? HOME : path.startsWith('~/') ? `${HOME}${path.slice(1)}` : path;
}

/**
 * The client's host key check (OpenSSH 9.2 check_host_key, CheckHostIP off as its default is): the
 * node presents its host key, looked up under HostKeyAlias, else the destination as typed (lower
 * case), in the user then the global known-hosts files. Known and equal goes on; known under
 * another key is refused unless StrictHostKeyChecking=no; unknown is refused with
 * StrictHostKeyChecking=yes, and with ask (the default) under BatchMode or, there being no
 * terminal here to answer the question, without it; accept-new and no add it to the first user file.
 * `log` is what ssh prints on the way (its fatal and error lines, which -q silences).
 */
function verifyHostKey(sim: Simulator, fs: VirtualFs, node: string, line: SshLine): { ok: boolean; log: string } {
  const name = line.hostKeyAlias ?? line.host.toLowerCase();
  const userFiles = (line.userKnownHostsFiles ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map(expandTilde);
  const globalFiles = line.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];
  const keyLine = nodeHostKeyLine(sim, node);
  const [type, blob] = keyLine.split(' ') as [string, string];
  const shownType = type === 'ssh-ed25519' ? 'ED25519' : type;
  const known = knownKeysFor(fs, [...userFiles, ...globalFiles.map(expandTilde)], name);
  if (known.some((key) => key.type === type && key.blob === blob)) return { ok: true, log: '' };
  const strict = line.strictHostKeyChecking ?? 'ask';
  const failed = 'Host key verification failed.\n';
  const offending = known.find((key) => key.type === type);
  if (offending) {
    const ruler = '@'.repeat(59);
    const shownFile = offending.file.startsWith(`${HOME}/`) ? `~${offending.file.slice(HOME.length)}` : offending.file;
    let log = [
      ruler,
      '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      ruler,
      'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
      'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
      'It is also possible that a host key has just been changed.',
      `The fingerprint for the ${shownType} key sent by the remote host is`,
      `${sha256Fingerprint(keyLine)}.`,
      'Please contact your system administrator.',
      ...[userFiles[0] ?? globalFiles[0]]
        .filter((file) => file !== undefined)
        .map((file) => `Add correct host key in ${file} to get rid of this message.`),
      `Offending ${shownType} key in ${offending.file}:${offending.line}`,
      '  remove with:',
      `  ssh-keygen -f "${shownFile}" -R "${name}"`,
      '',
    ].join('\n');
    if (strict !== 'off') {
      return {
        ok: false,
        log: `${log}Host key for ${name} has changed and you have requested strict checking.\n${failed}`,
      };
    }
    log += 'Password authentication is disabled to avoid man-in-the-middle attacks.\n';
    log += 'Keyboard-interactive authentication is disabled to avoid man-in-the-middle attacks.\n';
    return { ok: true, log };
  }
  if (strict === 'yes') {
    return {
      ok: false,
      log: `No ${shownType} host key is known for ${name} and you have requested strict checking.\n${failed}`,
    };
  }
  // ask: BatchMode answers no without a word, and without it there is no terminal to ask on.
  if (strict === 'ask') return { ok: false, log: failed };
  const target = userFiles[0];
  if (target === undefined) return { ok: true, log: '' };
  try {
    // ssh makes ~/.ssh when the file is to go there.
    if (target.startsWith(`${HOME}/.ssh/`)) fs.mkdir(`${HOME}/.ssh`, { recursive: true, mode: 0o700 });
    fs.writeFile(target, hashedKnownHostsLine(name, keyLine), { append: true });
    return { ok: true, log: `Warning: Permanently added '${name}' (${shownType}) to the list of known hosts.\n` };
  } catch {
    return { ok: true, log: `Failed to add the host to the list of known hosts (${target}).\n` };
  }
}

/** The `ssh` command of a node's shell; `loginShell` opens a root shell on a node of the cluster. */
export function clusterSsh(sim: Simulator, loginShell: (node: string) => Shell): Command {
  return async ({ argv, readStdin, shell, signal }): Promise<CommandOutcome> => {
    let line: SshLine;
    let stderrBefore = '';
    try {
      const parsed = parseSshArgs(argv.slice(1));
      if ('usage' in parsed) return { stderr: parsed.usage, code: 255 };
      line = parsed;
    } catch (error) {
      if (error instanceof SshFailure) return { stderr: `${error.message}\n`, code: 255 };
      throw error;
    }
    if (line.version) return { stderr: VERSION };
    // Failures from here on are ssh's fatal log messages, which -q (LogLevel QUIET) silences too.
    const fatal = (message: string): CommandOutcome => ({ stderr: line.quiet ? '' : `${message}\n`, code: 255 });
    // An address is used as it is (PVE's own tools connect to a node's cluster address, with
    // HostKeyAlias=<node>): a node's address reaches it, any other has no route from here. A name
    // resolves only if it is one of the cluster's nodes (as /etc/hosts holds them; any case).
    const address = /^\d{1,3}(\.\d{1,3}){3}$/.test(line.host);
    const node = address
      ? nodeAt(sim.state, line.host)
      : sim.options.nodes.find((name) => name.toLowerCase() === line.host.toLowerCase());
    if (!node && address) return fatal(`ssh: connect to host ${line.host} port ${line.port ?? 22}: No route to host`);
    if (!node) return fatal(`ssh: Could not resolve hostname ${line.host}: Name or service not known`);
    // A node down (the simulator's offline fault) answers nothing: with ConnectTimeout the connect
    // gives up at the timeout, without it the neighbour lookup fails.
    if (sim.faults.nodeIsOffline(node)) {
      const reason = line.connectTimeout !== undefined ? 'Connection timed out' : 'No route to host';
      return fatal(`ssh: connect to host ${line.host} port ${line.port ?? 22}: ${reason}`);
    }
    if (line.port !== undefined && line.port !== 22) {
      return fatal(`ssh: connect to host ${line.host} port ${line.port}: Connection refused`);
    }
    const verified = verifyHostKey(sim, shell.fs, node, line);
    if (!line.quiet) stderrBefore += verified.log;
    if (!verified.ok) return { stderr: stderrBefore, code: 255 };
    // Only root holds the cluster's trusted key; anyone else has no key the node accepts and no
    // terminal to type a password on.
    const user = line.user ?? 'root';
    if (user !== 'root') return fatal(`${user}@${line.host}: Permission denied (publickey,password).`);

    let stderr = stderrBefore;
    // Without a command (or with -t) ssh asks for a terminal and, this stdin not being one, says it
    // goes without; only -tt forces one.
    const wantsTty = line.requestTty === 'yes' || (line.requestTty === 'auto' && line.command.length === 0);
    if (wantsTty && !line.quiet) stderr += 'Pseudo-terminal will not be allocated because stdin is not a terminal.\n';
    const stdin = line.stdinNull ? async () => '' : readStdin;
    if (line.noCommand) {
      await stdin();
      return stderr ? { stderr } : {};
    }
    const remote = loginShell(node);
    let stdout = '';
    // The remote side gets the words joined by spaces and parses them again (as sshd's shell does);
    // without a command the login shell reads its commands from stdin.
    const script = line.command.length > 0 ? line.command.join(' ') : await stdin();
    const code = await remote.run(script, {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      stdin: line.command.length > 0 ? stdin : async () => '',
      signal,
    });
    return { stdout, stderr, code };
  };
}
