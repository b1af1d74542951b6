/**
 * `glassdome setup --bootstrap-ssh root@node`: makes the Proxmox side Glassdome needs, over SSH as
 * root with `pveum` and `pvesh` (their JSON output), and reports each change it made:
 * - the user of the token id (`glassdome@pve`), if missing;
 * - the token itself, privilege-separated, so it holds only what its own ACLs grant (its secret is
 *   shown by Proxmox once, and goes straight into the env file);
 * - one role per ACL path holding exactly the privileges checked there (privileges.ts), created or
 *   set back to exactly that list;
 * - each role on its path for the user and for the token (a privilege-separated token gets the
 *   intersection of both);
 * - the API certificate's fingerprint, read from the node (`pvesh get /nodes`) over the SSH
 *   connection whose host key was pinned, for the env file to pin.
 * Everything already in place is left alone and reported as such; nothing is ever removed, apart
 * from the token when `--replace-token` asks for a new secret.
 */
import type { SetupAnswers } from './answers';
import { type CheckOutcome, failed, passed } from './outcome';
import { type AclGrant, glassdomeAcls } from './privileges';
import { normalizeFingerprint } from './tls-peer';

/** Runs one command on the node as root; resolves with what it printed and its exit status. */
export type NodeRunner = (argv: string[]) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>;

/** What the node's access control holds, as far as the bootstrap cares. */
export interface AccessState {
  users: string[];
  /** Token names of the token id's user. */
  tokens: string[];
  /** Privileges by role id. */
  roles: Record<string, string[]>;
  acl: { path: string; type: string; ugid: string; roleid: string }[];
}

/** One change to make: the command, and what it does in words. */
export interface Change {
  argv: string[];
  says: string;
}

/** Raised when the node refuses a command or answers something unreadable. */
export class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}

function splitTokenId(tokenId: string): { user: string; token: string } {
  const [user, token] = tokenId.split('!');
  if (!user || !token) throw new BootstrapError(`token id ${tokenId} is not user@realm!name`);
  return { user, token };
}

async function json<T>(run: NodeRunner, argv: string[]): Promise<T> {
  const result = await run([...argv, '--output-format', 'json']);
  if (result.exitCode !== 0) {
    throw new BootstrapError(
      `\`${argv.join(' ')}\` failed (${result.exitCode}): ${result.stderr.trim().split('\n')[0]}`,
    );
  }
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new BootstrapError(`\`${argv.join(' ')}\` printed no JSON: ${result.stdout.slice(0, 200)}`);
  }
}

async function change(run: NodeRunner, step: Change): Promise<void> {
  const result = await run(step.argv);
  if (result.exitCode !== 0) {
    throw new BootstrapError(`${step.says}: \`${step.argv.join(' ')}\` failed: ${result.stderr.trim().split('\n')[0]}`);
  }
}

/** Reads users, the user's tokens, roles and ACLs through `pveum`. */
export async function readAccess(run: NodeRunner, tokenId: string): Promise<AccessState> {
  const { user } = splitTokenId(tokenId);
  const users = (await json<{ userid: string }[]>(run, ['pveum', 'user', 'list'])).map((row) => row.userid);
  const tokens = users.includes(user)
    ? (await json<{ tokenid: string }[]>(run, ['pveum', 'user', 'token', 'list', user])).map((row) => row.tokenid)
    : [];
  const roles = Object.fromEntries(
    (await json<{ roleid: string; privs?: string }[]>(run, ['pveum', 'role', 'list'])).map((row) => [
      row.roleid,
      (row.privs ?? '').split(/[,\s]+/).filter(Boolean),
    ]),
  );
  const acl = await json<AccessState['acl']>(run, ['pveum', 'acl', 'list']);
  return { users, tokens, roles, acl };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((item) => b.includes(item));

/** The role and ACL changes that make `state` hold `grants` for the token and its user; none when all is there. */
export function planGrants(state: AccessState, tokenId: string, grants: AclGrant[]): Change[] {
  const { user } = splitTokenId(tokenId);
  const changes: Change[] = [];
  for (const grant of grants) {
    const privs = grant.privs.join(',');
    const held = state.roles[grant.role];
    if (!held) {
      changes.push({
        argv: ['pveum', 'role', 'add', grant.role, '--privs', privs],
        says: `created role ${grant.role} (${grant.privs.join(', ')})`,
      });
    } else if (!sameSet(held, grant.privs)) {
      changes.push({
        argv: ['pveum', 'role', 'modify', grant.role, '--privs', privs],
        says: `set role ${grant.role} to exactly ${grant.privs.join(', ')} (it held ${held.join(', ') || 'nothing'})`,
      });
    }
    for (const [type, ugid, option] of [
      ['user', user, '--users'],
      ['token', tokenId, '--tokens'],
    ] as const) {
      const there = state.acl.some(
        (e) => e.path === grant.path && e.type === type && e.ugid === ugid && e.roleid === grant.role,
      );
      if (!there) {
        changes.push({
          argv: ['pveum', 'acl', 'modify', grant.path, option, ugid, '--roles', grant.role],
          says: `granted ${grant.role} on ${grant.path} to ${type} ${ugid}`,
        });
      }
    }
  }
  return changes;
}

/** The API certificate's fingerprint as the node itself reports it (`ssl_fingerprint` of GET /nodes). */
async function nodeFingerprint(run: NodeRunner, node: string): Promise<string> {
  const nodes = await json<{ node: string; ssl_fingerprint?: string }[]>(run, ['pvesh', 'get', '/nodes']);
  const found = nodes.find((row) => row.node === node);
  if (!found)
    throw new BootstrapError(
      `no node ${node} in the cluster (found: ${nodes.map((row) => row.node).join(', ') || 'none'})`,
    );
  if (!found.ssl_fingerprint) throw new BootstrapError(`node ${node} reports no TLS fingerprint`);
  return found.ssl_fingerprint;
}

export interface BootstrapResult {
  outcomes: CheckOutcome[];
  learned?: Pick<SetupAnswers, 'tokenSecret'> & { tlsFingerprint?: string };
}

/** Makes user, token, roles and ACLs as described above, answering one outcome per change (or per thing already there). */
export async function bootstrapProxmox(
  run: NodeRunner,
  answers: SetupAnswers,
  options: { replaceToken?: boolean } = {},
): Promise<BootstrapResult> {
  const { user, token } = splitTokenId(answers.tokenId);
  const outcomes: CheckOutcome[] = [];
  const done = (says: string) => outcomes.push(passed('changed', says));
  try {
    const tlsFingerprint =
      new URL(answers.proxmoxUrl).protocol === 'https:' ? await nodeFingerprint(run, answers.node) : undefined;
    if (
      tlsFingerprint &&
      answers.tlsFingerprint &&
      normalizeFingerprint(tlsFingerprint) !== normalizeFingerprint(answers.tlsFingerprint)
    ) {
      throw new BootstrapError(
        `the node reports TLS fingerprint ${tlsFingerprint}, not the expected ${answers.tlsFingerprint}; nothing was changed`,
      );
    }
    let state = await readAccess(run, answers.tokenId);
    if (!state.users.includes(user)) {
      await change(run, {
        argv: ['pveum', 'user', 'add', user, '--comment', 'Glassdome'],
        says: `created user ${user}`,
      });
      done(`created user ${user}`);
    } else outcomes.push(passed('unchanged', `user ${user} exists`));

    if (state.tokens.includes(token)) {
      if (!options.replaceToken) {
        return {
          outcomes: [
            ...outcomes,
            failed(
              'token',
              `${answers.tokenId} exists, and Proxmox never shows a token's secret again`,
              'give its secret (--token-secret or PROXMOX_TOKEN_SECRET) without --bootstrap-ssh, pass --replace-token to make a new secret (the old one stops working), or name another token with --token-id',
            ),
          ],
        };
      }
      await change(run, {
        argv: ['pveum', 'user', 'token', 'remove', user, token],
        says: `removed token ${answers.tokenId}`,
      });
      done(`removed token ${answers.tokenId} (--replace-token)`);
    }
    const created = await json<{ value?: string }>(run, [
      'pveum',
      'user',
      'token',
      'add',
      user,
      token,
      '--privsep',
      '1',
      '--comment',
      'Glassdome',
    ]);
    if (!created.value) throw new BootstrapError(`the node created ${answers.tokenId} but showed no secret`);
    done(`created token ${answers.tokenId}, privilege-separated (its secret goes to the env file only)`);

    // Read again: the token's ACLs can only exist once the token does.
    state = await readAccess(run, answers.tokenId);
    const grants = glassdomeAcls(answers);
    for (const step of planGrants(state, answers.tokenId, grants)) {
      await change(run, step);
      done(step.says);
    }
    if (
      outcomes.every(
        (outcome) => outcome.title !== 'changed' || !/^(granted|created role|set role)/.test(outcome.detail),
      )
    ) {
      outcomes.push(
        passed('unchanged', `roles and ACLs were already in place (${grants.map((g) => g.path).join(', ')})`),
      );
    }
    if (tlsFingerprint) outcomes.push(passed('TLS fingerprint', `${tlsFingerprint}, as the node reports it (pinned)`));
    return { outcomes, learned: { tokenSecret: created.value, ...(tlsFingerprint ? { tlsFingerprint } : {}) } };
  } catch (error) {
    if (!(error instanceof BootstrapError)) throw error;
    return {
      outcomes: [
        ...outcomes,
        failed(
          'bootstrap',
          error.message,
          'log in as root (pveum needs it) and check the node answers `pveum user list`',
        ),
      ],
    };
  }
}
