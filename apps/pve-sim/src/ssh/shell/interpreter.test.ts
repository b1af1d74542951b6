import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins } from './builtins';
import { fileCommands } from './file-commands';
import { Shell } from './interpreter';
import { parseScript, ShellSyntaxError } from './parse';
import { textCommands } from './text-commands';
import { VirtualFs } from './virtual-fs';

function makeShell(
  options: { user?: string; stdin?: string; mayWrite?: (user: string, path: string) => boolean } = {},
) {
  const fs = new VirtualFs();
  fs.mkdir('/root', { recursive: true });
  fs.mkdir('/home/ubuntu', { recursive: true, owner: 'ubuntu' });
  fs.mkdir('/etc', { recursive: true });
  const written: Array<{ path: string; content: string; mode: number }> = [];
  const shell = new Shell({
    fs,
    user: options.user ?? 'root',
    commands: { ...builtins, ...fileCommands, ...textCommands },
    mayWrite: options.mayWrite,
    onFileChanged: (path, file) => written.push({ path, content: file.content.toString(), mode: file.mode }),
  });
  const run = async (script: string) => {
    let stdout = '';
    let stderr = '';
    const code = await shell.run(script, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      stdin: async () => options.stdin ?? '',
    });
    return { code, stdout, stderr };
  };
  return { fs, shell, run, written };
}

test('quotes and backslashes split words as a POSIX shell does', async () => {
  const { run } = makeShell();
  const result = await run(`printf '[%s]' 'a b' "c \\"d\\" $HOME" e\\ f 'it'\\''s'`);
  assert.equal(result.stdout, '[a b][c "d" /root][e f][it\'s]');
});

test('sequencing operators, assignments and redirections are recognised, quoted ones are words', () => {
  const items = parseScript(`A=1 cmd x > out 2>&1 && echo '&&' || false; true`);
  assert.deepEqual(
    items.map((item) => item.connector),
    [';', '&&', '||', ';'],
  );
  const first = items[0]!.pipeline[0]!;
  assert.equal(first.kind, 'simple');
  if (first.kind !== 'simple') return;
  assert.deepEqual(first.assignments, [{ name: 'A', value: '1' }]);
  assert.deepEqual(first.words, ['cmd', 'x']);
  assert.deepEqual(first.redirects, [
    { fd: 1, op: '>', target: 'out' },
    { fd: 2, op: '>&', target: '1' },
  ]);
  assert.deepEqual(items[1]!.pipeline[0], { kind: 'simple', assignments: [], words: ['echo', "'&&'"], redirects: [] });
});

test('unsupported or broken syntax is refused rather than guessed', () => {
  assert.throws(() => parseScript(`echo 'open`), ShellSyntaxError);
  assert.throws(() => parseScript('echo $(id'), /expecting "\)"/);
  assert.throws(() => parseScript('&& ls'), /"&&" unexpected/);
  assert.throws(() => parseScript('& ls'), /"&" unexpected/);
  assert.throws(() => parseScript('ls && & true'), /"&" unexpected/);
  assert.throws(() => parseScript('ls &&'), /end of file unexpected/);
  assert.throws(() => parseScript('if true; then echo'), /end of file unexpected/);
  assert.throws(() => parseScript('for x in a; do done'), /"done" unexpected/);
  assert.throws(() => parseScript('fi'), /"fi" unexpected/);
});

test('& ends an AND-OR list as ; does and marks the whole list asynchronous', () => {
  const items = parseScript('a && b & c; d &');
  assert.deepEqual(
    items.map((item) => [item.connector, item.async ?? false]),
    [
      [';', false],
      ['&&', true],
      [';', false],
      [';', true],
    ],
  );
});

/** A shell with `slow MS WORD`: prints WORD after MS milliseconds of real time, exits 3 for `fail`. */
function shellWithSlowCommand() {
  const made = makeShell({ stdin: 'typed\n' });
  const shell = new Shell({
    ...made.shell.options,
    commands: {
      ...made.shell.options.commands,
      slow: async ({ argv }) => {
        await new Promise((resolve) => setTimeout(resolve, Number(argv[1])));
        return { stdout: `${argv[2]}\n`, code: argv[2] === 'fail' ? 3 : 0 };
      },
    },
  });
  const run = async (script: string) => {
    let stdout = '';
    const code = await shell.run(script, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stdout += text),
      stdin: async () => 'typed\n',
    });
    return { code, stdout };
  };
  return { run };
}

test('an asynchronous list runs while the script goes on; wait collects it', async () => {
  const { run } = shellWithSlowCommand();
  // Side by side: the later, shorter one prints first, and the script goes on before either ends.
  assert.deepEqual(await run('slow 40 first & slow 5 second & echo started; wait; echo done'), {
    code: 0,
    stdout: 'started\nsecond\nfirst\ndone\n',
  });
  // The list after `&&` belongs to the asynchronous list; its own status is 0.
  assert.deepEqual(await run('slow 5 fail && echo never & echo "now $?"; wait'), {
    code: 0,
    stdout: 'now 0\nfail\n',
  });
});

test("wait PID answers that list's status, 127 for a pid it does not know; $! names the last list", async () => {
  const { run } = shellWithSlowCommand();
  assert.deepEqual(
    await run('echo "[$!]"; slow 20 fail & a=$!; slow 1 ok & b=$!; wait $a; echo "a $?"; wait $b; echo "b $?"'),
    {
      code: 0,
      stdout: '[]\nok\nfail\na 3\nb 0\n',
    },
  );
  // Waited for once, a pid is no longer known; so is one never started.
  assert.deepEqual(await run('true & p=$!; wait $p; wait $p; echo "$?"; wait 99999; echo "$?"'), {
    code: 0,
    stdout: '127\n127\n',
  });
  // Without operands wait answers 0 whatever the lists ended with; several pids: the last one's status.
  assert.deepEqual(await run('slow 1 fail & wait; echo "$?"; slow 1 fail & a=$!; true & wait $a $!; echo "$?"'), {
    code: 0,
    stdout: 'fail\n0\nfail\n0\n',
  });
  assert.deepEqual(await run('wait x'), { code: 2, stdout: 'sh: 1: wait: Illegal number: x\n' });
});

test('an asynchronous list runs in a subshell environment with stdin from /dev/null; the script ends after it', async () => {
  const { run } = shellWithSlowCommand();
  assert.deepEqual(await run('x=1; x=2 & cd / & exit 4 & wait; echo "$x $(pwd)"'), { code: 0, stdout: '1 /root\n' });
  assert.deepEqual(await run('cat & wait'), { code: 0, stdout: '' });
  // Not waited for, it still holds the output: the run ends (with the script's status) only after it.
  assert.deepEqual(await run('slow 10 late & false'), { code: 1, stdout: 'late\n' });
});

test('variables expand when the command runs, not when the script is read', async () => {
  const { run } = makeShell();
  assert.equal((await run('x=1; echo $x; x="$x two"; echo "$x"')).stdout, '1\n1 two\n');
  assert.equal((await run('false; echo $?; true; echo "$?"')).stdout, '1\n0\n');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
  assert.equal((await run('echo ${unset:-fallback} ${HOME:-no}')).stdout, 'fallback /root\n');
  // Unquoted expansions split into fields, quoted ones do not.
  assert.equal((await run('words="a  b"; printf "[%s]" $words "$words"')).stdout, '[a][b][a  b]');
});

test('command substitution: $(…) and backticks, nested, trailing newlines dropped', async () => {
  const { run } = makeShell();
  assert.equal((await run('echo "user=$(whoami)" `echo back`')).stdout, 'user=root back\n');
  assert.equal((await run('echo "$(echo "$(echo deep)")!"')).stdout, 'deep!\n');
  assert.equal((await run('pass="$(printf \'x\\n\\n\')"Aa1; echo "[$pass]"')).stdout, '[xAa1]\n');
  assert.equal((await run('v=$(false); echo $?')).stdout, '1\n');
});

test('if / elif / else pick the branch whose condition succeeds', async () => {
  const { run } = makeShell();
  const script = (n: number) =>
    `n=${n}\nif [ $n -eq 1 ]; then\n  echo one\nelif [ $n -eq 2 ]; then echo two\nelse echo many; fi`;
  assert.equal((await run(script(1))).stdout, 'one\n');
  assert.equal((await run(script(2))).stdout, 'two\n');
  assert.equal((await run(script(5))).stdout, 'many\n');
  assert.deepEqual(await run('if false; then echo no; fi'), { code: 0, stdout: '', stderr: '' });
  // A failing condition is tested, so set -e does not stop the script there.
  assert.equal((await run('set -e; if false; then :; fi; echo on')).stdout, 'on\n');
});

test('for loops over words and expansions; while and until loops are bounded', async () => {
  const { run } = makeShell();
  assert.equal((await run('for user in alice bob; do echo "hi $user"; done')).stdout, 'hi alice\nhi bob\n');
  assert.equal((await run('list="a b c"\nfor x in $list\ndo\n  printf %s $x\ndone')).stdout, 'abc');
  await run('echo 0 > /root/n');
  const counted = await run('while [ ! -f /root/stop ]; do echo >> /root/n; touch /root/stop; done; wc -l < /root/n');
  assert.equal(counted.stdout, '2\n');
  assert.equal((await run('until true; do echo never; done')).stdout, '');
  const endless = await run('while true; do :; done');
  assert.equal(endless.code, 1);
  assert.match(endless.stderr, /loop stopped by the simulator after 1000 rounds/);
  assert.deepEqual(await run('set -e; for x in a b; do false; echo no; done; echo no'), {
    code: 1,
    stdout: '',
    stderr: '',
  });
  assert.deepEqual(await run('for x in a b; do exit 7; done; echo no'), { code: 7, stdout: '', stderr: '' });
});

test('&&, || and ; follow exit statuses', async () => {
  const { run } = makeShell();
  assert.deepEqual(await run('false && echo no || echo yes; echo always'), {
    code: 0,
    stdout: 'yes\nalways\n',
    stderr: '',
  });
  assert.equal((await run('true && false')).code, 1);
});

test('an unknown command is "not found" with status 127', async () => {
  const { run } = makeShell();
  assert.deepEqual(await run('foo --bar'), { code: 127, stdout: '', stderr: 'sh: 1: foo: not found\n' });
});

test('exit stops the script with its status; sh -c runs a subshell whose exit does not', async () => {
  const { run } = makeShell();
  assert.deepEqual(await run('echo a; exit 3; echo b'), { code: 3, stdout: 'a\n', stderr: '' });
  assert.deepEqual(await run(`sh -c 'echo in; exit 4' || echo after`), {
    code: 0,
    stdout: 'in\nafter\n',
    stderr: '',
  });
  assert.equal((await run(`bash -lc 'exit 5'`)).code, 5);
});

test('set -e stops at the first untested failure', async () => {
  const { run } = makeShell();
  const result = await run('set -e; false || echo tested; false; echo unreachable');
  assert.deepEqual(result, { code: 1, stdout: 'tested\n', stderr: '' });
});

test('redirections and tee write files, pipes feed stdin, and writes are reported', async () => {
  const { run, fs, written } = makeShell({ stdin: 'from stdin\n' });
  await run('echo hello > /etc/greeting && echo again >> /etc/greeting');
  assert.equal(fs.readFile('/etc/greeting').toString(), 'hello\nagain\n');
  await run('cat > /etc/copy');
  assert.equal(fs.readFile('/etc/copy').toString(), 'from stdin\n');
  const piped = await run('echo piped | tee /etc/teed');
  assert.equal(piped.stdout, 'piped\n');
  assert.equal(fs.readFile('/etc/teed').toString(), 'piped\n');
  assert.deepEqual(
    written.map((entry) => entry.path),
    ['/etc/greeting', '/etc/greeting', '/etc/copy', '/etc/teed'],
  );
  assert.equal((await run('missing-command 2>/dev/null')).stderr, '');
});

test('file commands: mkdir -p, chmod, test, ls, cat errors', async () => {
  const { run, fs } = makeShell();
  assert.equal((await run('mkdir -p /opt/app/conf && touch /opt/app/conf/a && chmod 0600 /opt/app/conf/a')).code, 0);
  assert.equal(fs.stat('/opt/app/conf/a')?.mode, 0o600);
  assert.equal((await run('test -f /opt/app/conf/a && [ -d /opt/app ] && ! test -e /nope')).code, 0);
  assert.equal((await run('chmod +x /opt/app/conf/a; test -x /opt/app/conf/a')).code, 0);
  assert.equal((await run('ls /opt/app/conf')).stdout, 'a\n');
  assert.deepEqual(await run('cat /nope'), { code: 1, stdout: '', stderr: 'cat: /nope: No such file or directory\n' });
  assert.equal((await run('ls /nope')).code, 2);
  assert.match((await run('mkdir /opt')).stderr, /File exists/);
});

test('the write policy denies files outside what the user owns', async () => {
  const { run, fs } = makeShell({ user: 'ubuntu', mayWrite: (_user, path) => path.startsWith('/home/ubuntu') });
  assert.deepEqual(await run('echo x > /etc/motd'), {
    code: 2,
    stdout: '',
    stderr: 'sh: 1: cannot create /etc/motd: Permission denied\n',
  });
  assert.equal((await run('echo x | tee /etc/motd')).code, 1);
  assert.equal((await run('echo x > notes.txt')).code, 0);
  assert.equal(fs.readFile('/home/ubuntu/notes.txt').toString(), 'x\n');
});

test('sha256sum hashes file content', async () => {
  const { run } = makeShell();
  await run('printf abc > /root/f');
  assert.equal(
    (await run('sha256sum /root/f')).stdout,
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /root/f\n',
  );
});

test('text filters: grep, head, tail, wc over files and pipes', async () => {
  const { run } = makeShell();
  await run("printf 'alpha\\nbeta\\ngamma\\n' > /root/list");
  assert.equal((await run('grep -c a /root/list')).stdout, '3\n');
  assert.equal((await run('grep -v beta /root/list | head -n 1')).stdout, 'alpha\n');
  assert.equal((await run('tail -n 1 /root/list')).stdout, 'gamma\n');
  assert.equal((await run('cat /root/list | wc -l')).stdout, '3\n');
  assert.equal((await run('grep -q delta /root/list')).code, 1);
});

test('here-documents feed stdin, expanded unless the delimiter is quoted', async () => {
  const { run, fs } = makeShell();
  const script = "cat > /root/a <<EOF\nhome=$HOME\nEOF\ncat <<'RAW' > /root/b\nkeep $HOME\nRAW\necho after";
  assert.deepEqual(await run(script), { code: 0, stdout: 'after\n', stderr: '' });
  assert.equal(fs.readFile('/root/a').toString(), 'home=/root\n');
  assert.equal(fs.readFile('/root/b').toString(), 'keep $HOME\n');
  assert.equal((await run('cat <<-END\n\tindented\n\tEND')).stdout, 'indented\n');
});
