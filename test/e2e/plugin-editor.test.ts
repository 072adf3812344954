/**
 * The built-in editor plugin through the gateway, with the official SDK client: every tool,
 * resource and prompt with its error cases (issue 4, acceptance 1), and containment
 * (acceptance 3): `..`, absolute paths, symlinks to a file or a directory outside, NUL bytes
 * and deny-listed paths are refused, and nothing outside the root is read or written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

type Structured = Record<string, any>; // tool results are checked field by field
type Gw = Awaited<ReturnType<typeof startGateway>>;

/** Writes files (creating parents) under `base`. */
function plant(base: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(base, rel, '..'), { recursive: true });
    writeFileSync(join(base, rel), content);
  }
}

/** Every file under `base` (but not under `skip`) with its content; symlinks by their target. */
function snapshot(base: string, skip: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (p === skip) continue;
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out[relative(base, p)] = st.isFile() ? readFileSync(p, 'utf8') : `(${st.isSymbolicLink() ? 'link' : 'other'})`;
    }
  };
  walk(base);
  return out;
}

async function setup(name: string, plugins: unknown[]) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `mcpeg-editor-${name}-`)));
  const workspace = join(dir, 'workspace');
  mkdirSync(workspace);
  return {
    dir,
    workspace,
    start: async () => {
      const gw = await startGateway({ paths: { data: join(dir, 'data'), workspace }, plugins });
      return { gw, client: await connectClient(gw.url) };
    },
  };
}

function caller(client: () => Client) {
  return async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client().callTool({ name: `editor__${name}`, arguments: args });
    return { text: textOf(r), data: (r.structuredContent ?? {}) as Structured, isError: r.isError === true };
  };
}

const promptText = (p: { messages: Array<{ content: unknown }> }) => (p.messages[0].content as { text: string }).text;

describe('editor plugin: tools, resources and prompts', () => {
  let env: Awaited<ReturnType<typeof setup>>;
  let gw: Gw;
  let client: Client;
  const call = caller(() => client);
  const ws = (rel: string) => join(env.workspace, rel);
  const read = (rel: string) => readFileSync(ws(rel), 'utf8');
  const failsWith = async (name: string, args: Record<string, unknown>, re: RegExp) => {
    const r = await call(name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} succeeded: ${r.text}`);
    assert.match(r.text, re);
  };

  before(async () => {
    env = await setup('tools', [
      { name: 'editor' },
      // The same built-in with tiny size limits, for the TOO_LARGE errors.
      { name: 'small', module: 'editor', config: { max_read_bytes: 16, max_write_bytes: 16 } },
    ]);
    plant(env.workspace, {
      'notes.txt': 'line one\nline two\nline three\nline four\n',
      'src/a.ts': 'const a = 1;\nconst b = a + 1; // a.b\n',
      'src/b.ts': 'export const axb = "a.b a.b";\n',
      'docs/guide.md': 'Alpha\nalpha\nALPHA\n',
      'binary.bin': Buffer.from([0x89, 0x50, 0x00, 0x01, 0x02]),
      '.env': 'API_KEY=hunter2\n',
      'key.pem': '-----BEGIN PRIVATE KEY----- hunter2\n',
      '.git/config': '[core]\n',
    });
    symlinkSync('notes.txt', ws('link-inside'));
    execFileSync('mkfifo', [ws('fifo')]);
    ({ gw, client } = await env.start());
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(env.dir, { recursive: true, force: true });
  });

  it('lists the eight tools, namespaced', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools
        .filter((t) => t.name.startsWith('editor__'))
        .map((t) => t.name)
        .sort(),
      [
        'editor__create_file',
        'editor__delete_file',
        'editor__edit_file',
        'editor__list_directory',
        'editor__move_file',
        'editor__read_file',
        'editor__search_files',
        'editor__write_file',
      ],
    );
  });

  it('file_tree and file_stats describe the root, without deny-listed entries', async () => {
    const { resources } = await client.listResources();
    assert.ok(resources.some((r) => r.uri === 'mcpeg://editor/file_tree' && r.mimeType === 'text/plain'));
    assert.ok(resources.some((r) => r.uri === 'mcpeg://editor/file_stats'));
    const tree = await readText(client, 'mcpeg://editor/file_tree');
    assert.equal(
      tree,
      ['workspace/', '├── binary.bin', '├── docs/', '│   └── guide.md', '├── fifo', '├── link-inside ->', '├── notes.txt', '└── src/', '    ├── a.ts', '    └── b.ts'].join('\n'),
    );
    const stats = JSON.parse(await readText(client, 'mcpeg://editor/file_stats'));
    const bytes = ['binary.bin', 'docs/guide.md', 'notes.txt', 'src/a.ts', 'src/b.ts'].reduce((n, f) => n + statSync(ws(f)).size, 0);
    assert.deepEqual(stats, { roots: [env.workspace], files: 5, directories: 2, bytes, truncated: false });
  });

  it('read_file reads a whole file or a line range', async () => {
    const all = await call('read_file', { path: 'notes.txt' });
    assert.equal(all.text, read('notes.txt'));
    assert.deepEqual(all.data, { path: 'notes.txt', size: 39, totalLines: 4 });
    const some = await call('read_file', { path: 'notes.txt', lines: [2, 3] });
    assert.equal(some.text, 'line two\nline three\n');
    assert.deepEqual(some.data.range, [2, 3]);
    const clamped = await call('read_file', { path: 'notes.txt', lines: [4, 99] });
    assert.equal(clamped.text, 'line four\n');
    assert.deepEqual(clamped.data.range, [4, 4]);
    const viaLink = await call('read_file', { path: 'link-inside' });
    assert.equal(viaLink.text, read('notes.txt'), 'a symlink that stays inside the root is followed');
    assert.equal(viaLink.data.path, 'notes.txt');
    assert.equal((await call('read_file', { path: ws('src/a.ts') })).data.path, 'src/a.ts', 'an absolute path inside the root works');
  });

  it('read_file errors: missing, a range past the end, a directory, a FIFO, binary, too large', async () => {
    await failsWith('read_file', { path: 'nope.txt' }, /^read_file failed \(NOT_FOUND\): path "nope\.txt" does not exist/);
    await failsWith('read_file', { path: 'notes.txt', lines: [9, 10] }, /\(INVALID_ARGUMENT\): line 9 is past the end/);
    await failsWith('read_file', { path: 'notes.txt', lines: [3, 2] }, /\(INVALID_ARGUMENT\)/);
    await failsWith('read_file', { path: 'src' }, /\(NOT_A_REGULAR_FILE\): .*a directory/);
    await failsWith('read_file', { path: 'fifo' }, /\(NOT_A_REGULAR_FILE\): .*a device, FIFO or socket/);
    await failsWith('read_file', { path: 'binary.bin' }, /\(BINARY_FILE\)/);
    const r = await client.callTool({ name: 'small__read_file', arguments: { path: 'notes.txt' } });
    assert.match(textOf(r), /^read_file failed \(TOO_LARGE\): file "notes\.txt" is 39 bytes; the read limit is 16/);
    await assert.rejects(client.callTool({ name: 'editor__read_file', arguments: { path: 'notes.txt', lines: [1] } }), { code: -32602 });
    await assert.rejects(client.callTool({ name: 'editor__read_file', arguments: {} }), /Invalid arguments for read_file: .*path/);
  });

  it('write_file creates, replaces atomically, keeps a backup, and creates directories only when asked', async () => {
    const created = await call('write_file', { path: 'new.txt', content: 'first\n' });
    assert.deepEqual(created.data, { path: 'new.txt', bytes: 6, created: true });
    const replaced = await call('write_file', { path: 'new.txt', content: 'second\n', backup: true });
    assert.deepEqual(replaced.data, { path: 'new.txt', bytes: 7, created: false, backup: 'new.txt.bak' });
    assert.equal(read('new.txt'), 'second\n');
    assert.equal(read('new.txt.bak'), 'first\n');
    const noBackup = await call('write_file', { path: 'new.txt', content: 'third\n' });
    assert.equal(noBackup.data.backup, undefined);
    assert.equal(read('new.txt.bak'), 'first\n');

    await failsWith('write_file', { path: 'deep/er/file.txt', content: 'x' }, /\(NOT_FOUND\): the parent directory of "deep\/er\/file\.txt" does not exist/);
    assert.equal(existsSync(ws('deep')), false);
    const deep = await call('write_file', { path: 'deep/er/file.txt', content: 'x', create_dirs: true });
    assert.equal(deep.isError, false, deep.text);
    assert.equal(read('deep/er/file.txt'), 'x');
    assert.deepEqual(readdirSync(ws('deep/er')), ['file.txt'], 'no temp file is left behind');

    await failsWith('write_file', { path: 'src', content: 'x' }, /\(NOT_A_REGULAR_FILE\)/);
    const big = await client.callTool({ name: 'small__write_file', arguments: { path: 'big.txt', content: 'x'.repeat(17) } });
    assert.match(textOf(big), /\(TOO_LARGE\): content for "big\.txt" is 17 bytes; the write limit is 16/);
    assert.equal(existsSync(ws('big.txt')), false);
  });

  it('create_file creates a new file and refuses an existing one', async () => {
    const r = await call('create_file', { path: 'fresh.txt', content: 'hello' });
    assert.deepEqual(r.data, { path: 'fresh.txt', bytes: 5, created: true });
    const empty = await call('create_file', { path: 'sub/empty.txt', create_dirs: true });
    assert.equal(empty.data.bytes, 0);
    assert.equal(read('sub/empty.txt'), '');
    await failsWith('create_file', { path: 'fresh.txt', content: 'overwrite?' }, /^create_file failed \(EXISTS\): path "fresh\.txt" already exists/);
    assert.equal(read('fresh.txt'), 'hello');
  });

  it('delete_file needs confirm: true, and recursive for a non-empty directory', async () => {
    await failsWith('delete_file', { path: 'fresh.txt', confirm: false }, /^delete_file failed \(CONFIRM_REQUIRED\)/);
    assert.ok(existsSync(ws('fresh.txt')));
    await assert.rejects(client.callTool({ name: 'editor__delete_file', arguments: { path: 'fresh.txt' } }), /Invalid arguments for delete_file: .*confirm/);
    const r = await call('delete_file', { path: 'fresh.txt', confirm: true });
    assert.deepEqual(r.data, { path: 'fresh.txt', type: 'file' });
    assert.equal(existsSync(ws('fresh.txt')), false);
    await failsWith('delete_file', { path: 'fresh.txt', confirm: true }, /\(NOT_FOUND\)/);

    await failsWith('delete_file', { path: 'deep', confirm: true }, /\(INVALID_ARGUMENT\): directory "deep" is not empty/);
    assert.ok(existsSync(ws('deep/er/file.txt')));
    assert.deepEqual((await call('delete_file', { path: 'deep', confirm: true, recursive: true })).data, { path: 'deep', type: 'directory' });
    assert.equal(existsSync(ws('deep')), false);
    await failsWith('delete_file', { path: '.', confirm: true, recursive: true }, /\(PATH_INVALID\): .*is an editor root/);

    // A directory holding a deny-listed file cannot be deleted with it.
    plant(env.workspace, { 'app/.env.local': 'SECRET=1\n', 'app/main.ts': '' });
    await failsWith('delete_file', { path: 'app', confirm: true, recursive: true }, /\(PATH_DENIED\): path "app" contains "app\/\.env\.local"/);
    assert.ok(existsSync(ws('app/.env.local')));
  });

  it('move_file renames, refuses to clobber unless overwrite, and creates directories when asked', async () => {
    plant(env.workspace, { 'm1.txt': 'one', 'm2.txt': 'two' });
    assert.deepEqual((await call('move_file', { from: 'm1.txt', to: 'moved.txt' })).data, { from: 'm1.txt', to: 'moved.txt' });
    assert.equal(existsSync(ws('m1.txt')), false);
    assert.equal(read('moved.txt'), 'one');
    await failsWith('move_file', { from: 'moved.txt', to: 'm2.txt' }, /^move_file failed \(EXISTS\): path "m2\.txt" already exists/);
    assert.equal(read('m2.txt'), 'two');
    assert.equal((await call('move_file', { from: 'moved.txt', to: 'm2.txt', overwrite: true })).isError, false);
    assert.equal(read('m2.txt'), 'one');
    await failsWith('move_file', { from: 'm2.txt', to: 'into/new/place.txt' }, /\(NOT_FOUND\)/);
    assert.equal((await call('move_file', { from: 'm2.txt', to: 'into/new/place.txt', create_dirs: true })).isError, false);
    assert.equal(read('into/new/place.txt'), 'one');
    await failsWith('move_file', { from: 'into', to: 'into/new/inside' }, /\(INVALID_ARGUMENT\): cannot move "into" into itself/);
    await failsWith('move_file', { from: 'nothing.txt', to: 'x.txt' }, /\(NOT_FOUND\)/);
  });

  it('list_directory lists one level by default, deeper on request, and hides deny-listed entries', async () => {
    const top = await call('list_directory', {});
    const names = top.data.entries.map((e: { name: string }) => e.name);
    for (const hidden of ['.env', '.git', 'key.pem']) assert.ok(!names.includes(hidden), `${hidden} is listed`);
    assert.doesNotMatch(top.text, /\.env|\.git|key\.pem/);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('notes.txt') && names.includes('src'));
    assert.deepEqual(
      top.data.entries.find((e: { name: string }) => e.name === 'notes.txt'),
      { name: 'notes.txt', path: 'notes.txt', type: 'file', size: 39 },
    );
    assert.equal(top.data.entries.find((e: { name: string }) => e.name === 'link-inside').type, 'symlink');
    assert.match(top.text, /^d src$/m);
    assert.ok(!names.includes('a.ts'));

    const deep = await call('list_directory', { path: 'app', depth: 2 });
    assert.deepEqual(
      deep.data.entries.map((e: { path: string }) => e.path),
      ['app/main.ts'],
      'app/.env.local is hidden',
    );
    const two = await call('list_directory', { path: '.', depth: 2 });
    assert.ok(two.data.entries.some((e: { path: string }) => e.path === 'src/a.ts'));
    const limited = await call('list_directory', { limit: 2 });
    assert.equal(limited.data.entries.length, 2);
    assert.equal(limited.data.truncated, true);
    await failsWith('list_directory', { path: 'notes.txt' }, /\(NOT_A_DIRECTORY\)/);
    await failsWith('list_directory', { path: 'missing' }, /\(NOT_FOUND\)/);
  });

  it('search_files: literal by default, regex on request, per-file counts, a cap, file patterns', async () => {
    const literal = await call('search_files', { pattern: 'a.b', path: 'src' });
    assert.deepEqual(literal.data.files, [
      { path: 'src/a.ts', matches: 1 },
      { path: 'src/b.ts', matches: 2 },
    ]);
    assert.equal(literal.data.totalMatches, 3);
    assert.match(literal.text, /^3 match\(es\) in 2 file\(s\)\nsrc\/a\.ts:2: const b = a \+ 1; \/\/ a\.b\n/);
    assert.deepEqual(literal.data.matches[0], { path: 'src/a.ts', line: 2, column: 21, text: 'const b = a + 1; // a.b' });

    const regex = await call('search_files', { pattern: 'a.b', path: 'src', regex: true });
    assert.deepEqual(
      regex.data.files,
      [
        { path: 'src/a.ts', matches: 1 },
        { path: 'src/b.ts', matches: 3 },
      ],
      '"axb" matches the regex only',
    );

    const cased = await call('search_files', { pattern: 'alpha', path: 'docs' });
    assert.equal(cased.data.totalMatches, 1);
    const capped = await call('search_files', { pattern: 'alpha', ignore_case: true, max_matches: 2 });
    assert.equal(capped.data.totalMatches, 3);
    assert.equal(capped.data.matches.length, 2);
    assert.equal(capped.data.truncated, true);
    assert.match(capped.text, /^3 match\(es\) in 1 file\(s\) \(truncated\)/);

    const onlyTs = await call('search_files', { pattern: 'const', file_pattern: '*.ts' });
    assert.deepEqual(
      onlyTs.data.files.map((f: { path: string }) => f.path),
      ['src/a.ts', 'src/b.ts'],
    );
    const onlyMd = await call('search_files', { pattern: 'const', file_pattern: '*.md' });
    assert.equal(onlyMd.data.totalMatches, 0);

    const secrets = await call('search_files', { pattern: 'hunter2' });
    assert.equal(secrets.data.totalMatches, 0, 'deny-listed files (.env, key.pem) are not searched');
    assert.equal(secrets.data.skipped.binary, 1, 'binary.bin is skipped as binary');

    await failsWith('search_files', { pattern: '([a-z', regex: true }, /\(INVALID_ARGUMENT\): invalid regular expression/);
    await failsWith(
      'search_files',
      { pattern: '(a)\\1', regex: true },
      /\(INVALID_ARGUMENT\): invalid regular expression: .*\(patterns use RE2 syntax, which has no backreferences and no lookaround\)/,
    );
    // RE2 runs nested quantifiers in linear time, so they are no longer refused (test/security/redos.test.ts).
    const nested = await call('search_files', { pattern: '(a+)+$', regex: true, path: 'docs' });
    assert.equal(nested.data.totalMatches, 2, '"Alpha" and "alpha" end in "a"');
    await failsWith('search_files', { pattern: 'x', file_pattern: '*.{ts,js' }, /\(INVALID_ARGUMENT\): invalid file_pattern: unbalanced "\{" in glob "\*\.\{ts,js"/);
  });

  it('edit_file replaces a unique match, refuses ambiguous or missing ones, and dry_run writes nothing', async () => {
    const before = read('src/a.ts');
    const dry = await call('edit_file', { path: 'src/a.ts', old: 'a + 1', new: 'a + 2', dry_run: true });
    assert.equal(dry.data.applied, false);
    assert.equal(dry.data.line, 2);
    assert.equal(dry.text, '--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,2 +1,2 @@\n const a = 1;\n-const b = a + 1; // a.b\n+const b = a + 2; // a.b\n');
    assert.equal(read('src/a.ts'), before);

    const done = await call('edit_file', { path: 'src/a.ts', old: 'a + 1', new: 'a + 2', backup: true });
    assert.equal(done.data.applied, true);
    assert.equal(done.data.backup, 'src/a.ts.bak');
    assert.equal(done.text, dry.text);
    assert.equal(read('src/a.ts'), 'const a = 1;\nconst b = a + 2; // a.b\n');
    assert.equal(read('src/a.ts.bak'), before);

    await failsWith('edit_file', { path: 'src/a.ts', old: 'const', new: 'let' }, /^edit_file failed \(AMBIGUOUS_MATCH\): the text to replace occurs 2 times/);
    await failsWith('edit_file', { path: 'src/a.ts', old: 'a + 1', new: 'a + 3' }, /\(NO_MATCH\): the text to replace occurs 0 times/);
    assert.equal(read('src/a.ts'), 'const a = 1;\nconst b = a + 2; // a.b\n');
    await assert.rejects(client.callTool({ name: 'editor__edit_file', arguments: { path: 'src/a.ts', old: '', new: 'x' } }), { code: -32602 });
  });

  it('code_review and file_summary embed the file and declare their arguments', async () => {
    const { prompts } = await client.listPrompts();
    assert.deepEqual(
      prompts.find((p) => p.name === 'editor__code_review')?.arguments?.map((a) => [a.name, a.required ?? false]),
      [
        ['path', true],
        ['focus', false],
      ],
    );
    assert.deepEqual(
      prompts.find((p) => p.name === 'editor__file_summary')?.arguments?.map((a) => a.name),
      ['path'],
    );

    const review = await client.getPrompt({ name: 'editor__code_review', arguments: { path: 'src/a.ts', focus: 'security' } });
    assert.equal(review.description, 'Review of src/a.ts');
    assert.match(promptText(review), /^Review src\/a\.ts with a focus on security\./);
    assert.ok(promptText(review).includes('```\nconst a = 1;\nconst b = a + 2; // a.b\n\n```'));
    const summary = await client.getPrompt({ name: 'editor__file_summary', arguments: { path: 'notes.txt' } });
    assert.match(promptText(summary), /^Summarise notes\.txt \(4 lines\)/);
    assert.ok(promptText(summary).includes('line three'));

    await assert.rejects(client.getPrompt({ name: 'editor__code_review', arguments: {} }), /needs argument: path/);
    await assert.rejects(client.getPrompt({ name: 'editor__file_summary', arguments: { path: 'missing.txt' } }), /does not exist/);
    await assert.rejects(client.getPrompt({ name: 'editor__file_summary', arguments: { path: '.env' } }), /denied by the editor's deny list/);
  });
});

describe('editor plugin: containment', () => {
  let env: Awaited<ReturnType<typeof setup>>;
  let gw: Gw;
  let client: Client;
  let outside: string;
  let before0: Record<string, string>;
  const call = caller(() => client);

  before(async () => {
    env = await setup('contain', [{ name: 'editor' }]);
    outside = join(env.dir, 'outside');
    plant(outside, { 'secret.txt': 'SENTINEL\n', 'sub/deeper.txt': 'SENTINEL 2\n' });
    plant(env.workspace, { 'notes.txt': 'inside\n', '.env': 'API_KEY=hunter2\n', '.git/config': '[core]\n', 'app/.env.production': 'DB=x\n' });
    symlinkSync(join(outside, 'secret.txt'), join(env.workspace, 'link-to-secret'));
    symlinkSync(outside, join(env.workspace, 'outdir'));
    symlinkSync('../outside/created-through-link.txt', join(env.workspace, 'dangling-out'));
    symlinkSync('/dev/zero', join(env.workspace, 'zero'));
    symlinkSync('.env', join(env.workspace, 'envlink'));
    symlinkSync('.git', join(env.workspace, 'gitlink'));
    before0 = snapshot(env.dir, env.workspace);
    ({ gw, client } = await env.start());
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(env.dir, { recursive: true, force: true });
  });

  /** [what, path, expected refusal]; each path names something outside the root or denied. */
  const cases = (): Array<[string, string, RegExp]> => [
    ['../ escape', '../outside/secret.txt', /\(PATH_OUTSIDE_ROOTS\): path "\.\.\/outside\/secret\.txt" leads outside the editor's roots/],
    ['../ escape hidden in a path', 'app/../../outside/secret.txt', /\(PATH_OUTSIDE_ROOTS\)/],
    ['absolute path outside', join(outside, 'secret.txt'), /\(PATH_OUTSIDE_ROOTS\)/],
    ['absolute device path', '/dev/zero', /\(PATH_OUTSIDE_ROOTS\)/],
    ['symlink to a file outside', 'link-to-secret', /\(PATH_OUTSIDE_ROOTS\): path "link-to-secret" leads outside/],
    ['symlink to a device', 'zero', /\(PATH_OUTSIDE_ROOTS\)/],
    ['through a symlinked directory', 'outdir/secret.txt', /\(PATH_OUTSIDE_ROOTS\): path "outdir\/secret\.txt" leads outside/],
    ['deeper through a symlinked directory', 'outdir/sub/deeper.txt', /\(PATH_OUTSIDE_ROOTS\)/],
    ['dangling symlink leading out', 'dangling-out', /\(PATH_OUTSIDE_ROOTS\)/],
    ['NUL byte', 'notes.txt\u0000.png', /\(PATH_INVALID\): path "notes\.txt\\u0000\.png" contains a NUL byte/],
    ['NUL byte before an escape', 'notes.txt\u0000/../../outside/secret.txt', /\(PATH_INVALID\)/],
    ['.git internals', '.git/config', /\(PATH_DENIED\): path "\.git\/config" is denied by the editor's deny list \(\.git\/\*\*\)/],
    ['.git internals, spelled around', 'app/../.git/config', /\(PATH_DENIED\)/],
    ['.env', '.env', /\(PATH_DENIED\): path "\.env" is denied .*\(\.env\)/],
    ['.env.* in a subfolder', 'app/.env.production', /\(PATH_DENIED\)/],
    ['.env, other case', '.ENV', /\(PATH_DENIED\)/],
    ['symlink inside to .env', 'envlink', /\(PATH_DENIED\): path "envlink" is denied .*\(\.env\)/],
    ['symlink inside to .git', 'gitlink/config', /\(PATH_DENIED\)/],
  ];

  it('read_file refuses each path without disclosing where a symlink leads', async () => {
    for (const [what, path, re] of cases()) {
      const r = await call('read_file', { path });
      assert.equal(r.isError, true, `${what}: read: ${r.text}`);
      assert.match(r.text, /^read_file failed /, what);
      assert.match(r.text, re, what);
      assert.doesNotMatch(r.text, /SENTINEL|hunter2/, `${what}: content leaked`);
      if (!path.startsWith('/') && !path.includes('outside')) assert.ok(!r.text.includes(outside), `${what}: the link target is disclosed: ${r.text}`);
    }
  });

  it('every writing tool refuses each path', async () => {
    for (const [what, path, re] of cases()) {
      const attempts: Array<[string, Record<string, unknown>]> = [
        ['write_file', { path, content: 'PWNED', create_dirs: true }],
        ['create_file', { path, content: 'PWNED' }],
        ['edit_file', { path, old: 'SENTINEL', new: 'PWNED' }],
        ['delete_file', { path, confirm: true, recursive: true }],
        ['move_file', { from: path, to: 'stolen.txt' }],
        ['move_file', { from: 'notes.txt', to: path, overwrite: true }],
      ];
      for (const [tool, args] of attempts) {
        const r = await call(tool, args);
        assert.equal(r.isError, true, `${what}: ${tool} succeeded: ${r.text}`);
        assert.match(r.text, re, `${what}: ${tool}`);
      }
    }
    assert.equal(readFileSync(join(env.workspace, 'notes.txt'), 'utf8'), 'inside\n');
    assert.equal(existsSync(join(env.workspace, 'stolen.txt')), false);
  });

  it('new files cannot be created outside, through a symlinked directory or a dangling link', async () => {
    for (const path of ['../escaped.txt', join(env.dir, 'escaped-abs.txt'), 'outdir/new.txt', 'outdir/newdir/x.txt', 'dangling-out', '.git/hooks/pre-commit', '.env.local']) {
      for (const tool of ['write_file', 'create_file']) {
        const r = await call(tool, { path, content: '#!/bin/sh\necho PWNED\n', create_dirs: true });
        assert.equal(r.isError, true, `${tool} ${path}: ${r.text}`);
        assert.match(r.text, /\((PATH_OUTSIDE_ROOTS|PATH_DENIED)\)/, `${tool} ${path}`);
      }
    }
  });

  it('listing and searching do not reach outside or into denied folders', async () => {
    for (const path of ['..', '../outside', outside, 'outdir', 'outdir/sub', '.git']) {
      const r = await call('list_directory', { path });
      assert.equal(r.isError, true, `list ${path}: ${r.text}`);
      assert.match(r.text, /\((PATH_OUTSIDE_ROOTS|PATH_DENIED)\)/, path);
      const s = await call('search_files', { pattern: 'SENTINEL', path });
      assert.equal(s.isError, true, `search ${path}: ${s.text}`);
    }
    // A search of the whole root skips symlinks instead of following them out.
    const all = await call('search_files', { pattern: 'SENTINEL' });
    assert.equal(all.data.totalMatches, 0, JSON.stringify(all.data));
    const secrets = await call('search_files', { pattern: 'hunter2', ignore_case: true });
    assert.equal(secrets.data.totalMatches, 0);
    const listed = await call('list_directory', { depth: 5 });
    assert.deepEqual(
      listed.data.entries.map((e: { path: string; type: string }) => [e.path, e.type]),
      [
        ['app', 'directory'],
        ['dangling-out', 'symlink'],
        ['envlink', 'symlink'],
        ['gitlink', 'symlink'],
        ['link-to-secret', 'symlink'],
        ['notes.txt', 'file'],
        ['outdir', 'symlink'],
        ['zero', 'symlink'],
      ],
    );
    const tree = await readText(client, 'mcpeg://editor/file_tree');
    assert.doesNotMatch(tree, /secret\.txt|deeper|\.env|\.git/);
  });

  it('prompts refuse the same paths', async () => {
    for (const [what, path] of cases()) {
      await assert.rejects(client.getPrompt({ name: 'editor__code_review', arguments: { path } }), /leads outside|NUL byte|deny list/, what);
      await assert.rejects(client.getPrompt({ name: 'editor__file_summary', arguments: { path } }), /leads outside|NUL byte|deny list/, what);
    }
  });

  it('nothing outside the root was read into a result, changed or created', () => {
    assert.deepEqual(snapshot(env.dir, env.workspace), before0);
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'SENTINEL\n');
    assert.equal(readFileSync(join(env.workspace, '.env'), 'utf8'), 'API_KEY=hunter2\n');
    assert.equal(readFileSync(join(env.workspace, '.git/config'), 'utf8'), '[core]\n');
    assert.equal(existsSync(join(env.workspace, '.git/hooks')), false);
    assert.equal(existsSync(join(outside, 'created-through-link.txt')), false);
  });
});

async function readText(client: Client, uri: string): Promise<string> {
  const r = await client.readResource({ uri });
  return (r.contents[0] as { text: string }).text;
}
