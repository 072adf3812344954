/**
 * The editor's filesystem layer (src/plugins/editor/fs-*.ts), against real temp directories
 * and real symlinks. Refusal tests check the error code, that the message does not disclose
 * the real path outside the roots, and that nothing outside was read or written: every
 * fs/promises call that reads or writes is recorded, and the outside tree is snapshotted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { FileOps, Sandbox, SandboxError, DEFAULT_DENY, renderTree, unifiedDiff, type SandboxErrorCode } from '../../../../src/plugins/editor/fs-ops.js';
import { DenyList } from '../../../../src/plugins/editor/fs-deny.js';
import { compileGlob } from '../../../../src/util/glob.js';
import { openForRead } from '../../../../src/plugins/editor/fs-handle.js';
import { commitTemp } from '../../../../src/plugins/editor/fs-atomic.js';

const SENTINEL = 'SENTINEL-outside-content';

// ---------- fixture ----------

let base: string; // holds root/ and outside/
let root: string;
let outside: string;
let ops: FileOps;

function write(rel: string, content: string | Buffer, dir = root): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
}
const read = (rel: string, dir = root): string => fs.readFileSync(path.join(dir, rel), 'utf8');
const exists = (rel: string, dir = root): boolean => fs.existsSync(path.join(dir, rel));

const bases: string[] = [];

function freshFixture(): void {
  base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcpeg-editorfs-')));
  bases.push(base);
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  write('secret.txt', SENTINEL, outside);
  write('dir/inner.txt', SENTINEL, outside);
  fs.symlinkSync(path.join(root, 'sub'), path.join(outside, 'back')); // outside -> back into root
  write('notes.txt', 'hello\nworld\n');
  write('sub/a.txt', 'alpha\n');
  write('.git/config', '[core]\n');
  write('.env', 'TOKEN=1\n');
  write('sub/.env.local', 'TOKEN=2\n');
  write('server.pem', 'KEY\n');
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link-file'));
  fs.symlinkSync(outside, path.join(root, 'link-dir'));
  fs.symlinkSync('/dev/null', path.join(root, 'devnull'));
  fs.symlinkSync(path.join(outside, 'back'), path.join(root, 'hop')); // out, then back in
  fs.symlinkSync(path.join(outside, 'planted.txt'), path.join(root, 'dangling'));
  fs.symlinkSync(path.join(root, '.git', 'config'), path.join(root, 'cfg'));
  fs.symlinkSync(path.join(root, 'sub', 'a.txt'), path.join(root, 'inner-link'));
  ops = new FileOps({ roots: [root] });
}

/** Every file, directory and link under `outside`, with contents: must not change. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) out.push(`${p}/`), walk(p);
      else out.push(`${p} = ${fs.readFileSync(p, 'utf8')} @${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out.join('\n');
}

// ---------- recording every fs/promises call that reads or writes ----------

const require = createRequire(import.meta.url);
const fsp = require('node:fs/promises') as Record<string, unknown>;
const RECORDED = [
  'open',
  'readFile',
  'writeFile',
  'appendFile',
  'readdir',
  'opendir',
  'rename',
  'link',
  'unlink',
  'rm',
  'rmdir',
  'mkdir',
  'copyFile',
  'truncate',
  'chmod',
  'symlink',
];
const originals = new Map(RECORDED.map((name) => [name, fsp[name]]));
let touched: string[] = [];

before(() => {
  for (const name of RECORDED) {
    const orig = originals.get(name) as (...args: unknown[]) => unknown;
    fsp[name] = function (this: unknown, ...args: unknown[]) {
      for (const a of args.slice(0, name === 'rename' || name === 'link' || name === 'copyFile' || name === 'symlink' ? 2 : 1)) touched.push(String(a));
      return orig.apply(this, args);
    };
  }
  syncBuiltinESMExports();
});
after(() => {
  for (const [name, orig] of originals) fsp[name] = orig;
  syncBuiltinESMExports();
});
beforeEach(() => {
  freshFixture();
  touched = [];
});
after(() => {
  for (const b of bases) fs.rmSync(b, { recursive: true, force: true });
});

/** The op must fail with `code`, without disclosing or touching anything outside the roots. */
async function refused(op: () => Promise<unknown>, code: SandboxErrorCode): Promise<SandboxError> {
  const before = snapshot(outside);
  touched = [];
  let caught: unknown;
  try {
    await op();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SandboxError, `expected a SandboxError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  // Echoing the caller's own path is fine; revealing where a symlink leads is not.
  const ownPath = caught.path === undefined ? '' : JSON.stringify(caught.path);
  assert.ok(!caught.message.replace(ownPath, '').includes(outside), `message discloses the outside path: ${caught.message}`);
  assert.ok(!caught.message.includes(SENTINEL));
  const escaped = touched.filter((p) => p.startsWith(outside) || p.startsWith('/dev/'));
  assert.deepEqual(escaped, [], 'read or wrote outside the roots');
  assert.equal(snapshot(outside), before, 'the outside tree changed');
  return caught;
}

// ---------- containment (acceptance point 3) ----------

describe('containment: paths that escape the roots are refused, nothing outside is touched', () => {
  it('refuses ../ escapes for every operation', async () => {
    await refused(() => ops.readText('../outside/secret.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.readText('sub/../../outside/secret.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic('../outside/secret.txt', 'x'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.createFile('../outside/new.txt', 'x'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.deleteFile('../outside/secret.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.move('notes.txt', '../outside/moved.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.move('../outside/secret.txt', 'stolen.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.listDirectory('..'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.fileStats('../outside/secret.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.search({ pattern: 'SENTINEL', path: '..' }), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.editFile({ path: '../outside/secret.txt', old: 'SENTINEL', new: 'x' }), 'PATH_OUTSIDE_ROOTS');
    assert.equal(exists('stolen.txt'), false);
    assert.equal(read('notes.txt'), 'hello\nworld\n');
  });

  it('refuses absolute paths outside the roots, including /dev/null', async () => {
    await refused(() => ops.readText(path.join(outside, 'secret.txt')), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic(path.join(outside, 'new.txt'), 'x'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.readText('/dev/null'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic('/dev/null', 'x'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.listDirectory('/'), 'PATH_OUTSIDE_ROOTS');
    // A sibling whose name merely starts with the root's name is not inside it.
    fs.mkdirSync(`${root}-evil`);
    await refused(() => ops.createFile(`${root}-evil/x.txt`, 'x'), 'PATH_OUTSIDE_ROOTS');
    assert.deepEqual(fs.readdirSync(`${root}-evil`), []);
  });

  it('refuses a symlink to a file outside, for read, write, edit, delete and move', async () => {
    await refused(() => ops.readText('link-file'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic('link-file', 'overwritten'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.editFile({ path: 'link-file', old: 'SENTINEL', new: 'x' }), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.deleteFile('link-file'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.move('link-file', 'copy.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.fileStats('link-file'), 'PATH_OUTSIDE_ROOTS');
    assert.equal(fs.readlinkSync(path.join(root, 'link-file')), path.join(outside, 'secret.txt'));
  });

  it('refuses paths through a symlinked directory that leads outside', async () => {
    await refused(() => ops.readText('link-dir/secret.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.readText('link-dir/dir/inner.txt'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.createFile('link-dir/new.txt', 'x'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic('link-dir/deep/new.txt', 'x', { createDirs: true }), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.listDirectory('link-dir'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.deleteFile('link-dir/dir', { recursive: true }), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.search({ pattern: 'SENTINEL', path: 'link-dir' }), 'PATH_OUTSIDE_ROOTS');
  });

  it('refuses a symlink that leads out and back in', async () => {
    // realpath(hop/a.txt) is inside the root, but the path went through a directory outside.
    await refused(() => ops.readText('hop/a.txt'), 'PATH_OUTSIDE_ROOTS');
  });

  it('refuses a dangling symlink pointing outside instead of creating its target', async () => {
    await refused(() => ops.createFile('dangling', 'planted'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic('dangling', 'planted'), 'PATH_OUTSIDE_ROOTS');
    assert.equal(fs.existsSync(path.join(outside, 'planted.txt')), false);
    fs.symlinkSync(path.join(root, 'nowhere.txt'), path.join(root, 'dangling-in'));
    await refused(() => ops.createFile('dangling-in', 'x'), 'PATH_INVALID');
    assert.equal(exists('nowhere.txt'), false);
  });

  it('refuses NUL bytes and other control characters', async () => {
    const err = await refused(() => ops.readText('notes.txt\0.jpg'), 'PATH_INVALID');
    assert.match(err.message, /\\u0000/);
    await refused(() => ops.writeAtomic('new\0.txt', 'x'), 'PATH_INVALID');
    await refused(() => ops.createFile('a\nb.txt', 'x'), 'PATH_INVALID');
    await refused(() => ops.readText(''), 'PATH_INVALID');
    assert.equal(exists('new'), false);
  });

  it('refuses deny-listed paths and paths through a denied folder', async () => {
    await refused(() => ops.readText('.git/config'), 'PATH_DENIED');
    await refused(() => ops.writeAtomic('.git/hooks/pre-commit', '#!/bin/sh\n', { createDirs: true }), 'PATH_DENIED');
    await refused(() => ops.listDirectory('.git'), 'PATH_DENIED');
    await refused(() => ops.readText('.env'), 'PATH_DENIED');
    await refused(() => ops.readText('sub/.env.local'), 'PATH_DENIED');
    await refused(() => ops.readText('server.pem'), 'PATH_DENIED');
    await refused(() => ops.createFile('.ENV', 'x'), 'PATH_DENIED'); // case-insensitive filesystems
    await refused(() => ops.move('notes.txt', '.env.prod'), 'PATH_DENIED');
    await refused(() => ops.deleteFile('.env'), 'PATH_DENIED');
    // A symlink whose real path is denied is denied too, and so is a denied name linking to an allowed file.
    await refused(() => ops.readText('cfg'), 'PATH_DENIED');
    fs.symlinkSync(path.join(root, 'notes.txt'), path.join(root, '.npmrc'));
    await refused(() => ops.readText('.npmrc'), 'PATH_DENIED');
    assert.equal(exists('.git/hooks'), false);
    assert.equal(read('.git/config'), '[core]\n');
    assert.equal(read('.env'), 'TOKEN=1\n');
  });

  it('refuses device files via a symlink, and FIFOs and sockets inside the root without blocking', async () => {
    await refused(() => ops.readText('devnull'), 'PATH_OUTSIDE_ROOTS');
    await refused(() => ops.writeAtomic('devnull', 'x'), 'PATH_OUTSIDE_ROOTS');
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    await refused(() => ops.readText('pipe'), 'NOT_A_REGULAR_FILE');
    await refused(() => ops.writeAtomic('pipe', 'x'), 'NOT_A_REGULAR_FILE');
    await refused(() => ops.editFile({ path: 'pipe', old: 'a', new: 'b' }), 'NOT_A_REGULAR_FILE');
    assert.ok(fs.lstatSync(path.join(root, 'pipe')).isFIFO());
    await refused(() => ops.readText('sub'), 'NOT_A_REGULAR_FILE');
  });

  it('refuses a backup target planted as a symlink to a file outside', async () => {
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'notes.txt.bak'));
    await refused(() => ops.writeAtomic('notes.txt', 'new', { backup: true }), 'PATH_OUTSIDE_ROOTS');
    assert.equal(read('notes.txt'), 'hello\nworld\n');
  });

  it('refuses deleting a root or a directory holding denied files', async () => {
    await refused(() => ops.deleteFile('.', { recursive: true }), 'PATH_INVALID');
    await refused(() => ops.deleteFile(root, { recursive: true }), 'PATH_INVALID');
    write('proj/.git/HEAD', 'ref\n');
    write('proj/src/x.ts', 'x\n');
    await refused(() => ops.deleteFile('proj', { recursive: true }), 'PATH_DENIED');
    await refused(() => ops.move('proj', 'proj2'), 'PATH_DENIED');
    assert.equal(read('proj/.git/HEAD'), 'ref\n');
    assert.equal(read('proj/src/x.ts'), 'x\n');
  });

  it('re-checks the opened descriptor: a symlink swapped in after resolve() is not followed', async () => {
    const sb = ops.sandbox;
    const r = await sb.resolve('notes.txt', 'read');
    fs.rmSync(r.abs);
    fs.symlinkSync(path.join(outside, 'secret.txt'), r.abs);
    await refused(() => openForRead(sb, r.abs, 'notes.txt'), 'PATH_CHANGED');
  });

  it('re-checks the opened descriptor: a directory swapped for a link outside is caught by its real path', async () => {
    const sb = ops.sandbox;
    write('a.txt', SENTINEL, path.join(outside, 'dir'));
    const r = await sb.resolve('sub/a.txt', 'read');
    fs.renameSync(path.join(root, 'sub'), path.join(root, 'sub-old'));
    fs.symlinkSync(path.join(outside, 'dir'), path.join(root, 'sub'));
    let caught: unknown;
    try {
      await (await openForRead(sb, r.abs, 'sub/a.txt')).close();
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof SandboxError && caught.code === 'PATH_OUTSIDE_ROOTS', String(caught));
  });

  it('re-checks a new temp file: a directory swapped for a link outside gets nothing written into it', async () => {
    const sb = ops.sandbox;
    const r = await sb.resolve('sub/new.txt', 'create');
    fs.renameSync(path.join(root, 'sub'), path.join(root, 'sub-old'));
    fs.symlinkSync(path.join(outside, 'dir'), path.join(root, 'sub'));
    const before = snapshot(outside);
    let caught: unknown;
    try {
      await commitTemp(sb, r.abs, 'sub/new.txt', 'exclusive', 4, (fh) => fh.writeFile('leak'));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof SandboxError && caught.code === 'PATH_OUTSIDE_ROOTS', String(caught));
    assert.equal(snapshot(outside), before);
  });
});

// ---------- sandbox construction and resolution ----------

describe('Sandbox', () => {
  it('requires roots that exist, and realpaths them', () => {
    assert.throws(
      () => new Sandbox({ roots: [path.join(base, 'missing')] }),
      (e: unknown) => e instanceof SandboxError && e.code === 'NOT_FOUND',
    );
    assert.throws(
      () => new Sandbox({ roots: [path.join(root, 'notes.txt')] }),
      (e: unknown) => e instanceof SandboxError && e.code === 'NOT_A_DIRECTORY',
    );
    assert.throws(() => new Sandbox({ roots: [] }), SandboxError);
    fs.symlinkSync(root, path.join(base, 'root-link'));
    assert.deepEqual(new Sandbox({ roots: [path.join(base, 'root-link')] }).roots, [root]);
  });

  it('resolves relative paths against the first root and absolute paths in any root or its configured spelling', async () => {
    fs.mkdirSync(path.join(base, 'second'));
    fs.symlinkSync(root, path.join(base, 'root-link'));
    const sb = new Sandbox({ roots: [path.join(base, 'root-link'), path.join(base, 'second')] });
    assert.deepEqual(await sb.resolve('sub/a.txt', 'read'), { abs: path.join(root, 'sub/a.txt'), root, rel: 'sub/a.txt' });
    assert.deepEqual(await sb.resolve(path.join(base, 'root-link', 'notes.txt'), 'read'), { abs: path.join(root, 'notes.txt'), root, rel: 'notes.txt' });
    const second = await sb.resolve(path.join(base, 'second', 'new.txt'), 'create');
    assert.equal(second.root, path.join(base, 'second'));
    assert.equal(second.rel, 'new.txt');
    assert.deepEqual(await sb.resolve('inner-link', 'read'), { abs: path.join(root, 'sub/a.txt'), root, rel: 'sub/a.txt' });
    assert.deepEqual(await sb.resolve('.', 'list'), { abs: root, root, rel: '' });
  });

  it('checks intents: create needs a free name, read and delete an existing one', async () => {
    const sb = ops.sandbox;
    await assert.rejects(sb.resolve('notes.txt', 'create'), { code: 'EXISTS' });
    await assert.rejects(sb.resolve('nope.txt', 'read'), { code: 'NOT_FOUND' });
    await assert.rejects(sb.resolve('nope.txt', 'delete'), { code: 'NOT_FOUND' });
    await assert.rejects(sb.resolve('notes.txt/x', 'create'), { code: 'PATH_INVALID' });
    assert.equal((await sb.resolve('nope/deeper.txt', 'write')).rel, 'nope/deeper.txt');
  });

  it('accepts a deny list replacing the defaults', async () => {
    const sb = new Sandbox({ roots: [root], deny: ['secrets', '/top.txt'] });
    write('secrets/a.txt', 'x');
    write('top.txt', 'x');
    write('sub/top.txt', 'y');
    await assert.rejects(sb.resolve('secrets/a.txt', 'read'), { code: 'PATH_DENIED' });
    await assert.rejects(sb.resolve('top.txt', 'read'), { code: 'PATH_DENIED' });
    assert.equal((await sb.resolve('sub/top.txt', 'read')).rel, 'sub/top.txt'); // anchored with "/"
    assert.equal((await sb.resolve('.env', 'read')).rel, '.env');
  });
});

describe('deny list and globs', () => {
  it('default patterns match at any depth, through directories, case-insensitively', () => {
    const d = new DenyList(DEFAULT_DENY);
    for (const p of [
      '.git',
      '.git/config',
      'vendor/lib/.git/HEAD',
      '.env',
      'app/.env.production',
      'k/server.KEY',
      'id_rsa.pub',
      '.ssh/known_hosts',
      '.aws/credentials',
      'home/.npmrc',
      'c.p12',
      'x.crt',
    ]) {
      assert.ok(d.matches(p), `${p} should be denied`);
    }
    for (const p of ['', '.github/workflows/ci.yml', 'environment.ts', 'src/keys.ts', 'docs/env.md', 'notes.txt']) {
      assert.equal(d.matches(p), undefined, `${p} should be allowed`);
    }
  });

  it('supports *, ?, **, classes and alternatives', () => {
    const glob = (g: string) => compileGlob(g);
    assert.ok(glob('src/**/*.ts')('src/a/b/c.ts'));
    assert.ok(glob('src/**/*.ts')('src/c.ts'));
    assert.ok(!glob('*.ts')('src/c.ts'));
    assert.ok(glob('file?.{js,ts}')('file1.ts'));
    assert.ok(!glob('file?.{js,ts}')('file12.ts'));
    assert.ok(glob('[!a]*.md')('b.md'));
    assert.ok(!glob('[!a]*.md')('a.md'));
    assert.ok(glob('a+b(1).txt')('a+b(1).txt'));
  });
});

// ---------- operations ----------

describe('readText and fileStats', () => {
  it('reads whole files and line ranges', async () => {
    write('lines.txt', 'one\ntwo\nthree\nfour');
    const all = await ops.readText('lines.txt');
    assert.equal(all.content, 'one\ntwo\nthree\nfour');
    assert.equal(all.totalLines, 4);
    assert.equal(all.path, 'lines.txt');
    const mid = await ops.readText('lines.txt', { lines: [2, 3] });
    assert.equal(mid.content, 'two\nthree\n');
    assert.deepEqual(mid.range, [2, 3]);
    const tail = await ops.readText('lines.txt', { lines: [3, 99] });
    assert.equal(tail.content, 'three\nfour');
    assert.deepEqual(tail.range, [3, 4]);
    await assert.rejects(ops.readText('lines.txt', { lines: [5, 6] }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(ops.readText('lines.txt', { lines: [0, 1] }), { code: 'INVALID_ARGUMENT' });
  });

  it('enforces the read limit and refuses binary or non-UTF-8 content', async () => {
    const small = new FileOps({ roots: [root], maxReadBytes: 10 });
    write('big.txt', 'x'.repeat(11));
    write('ok.txt', 'x'.repeat(10));
    await assert.rejects(small.readText('big.txt'), { code: 'TOO_LARGE' });
    assert.equal((await small.readText('ok.txt')).content, 'x'.repeat(10));
    write('bin.dat', Buffer.from([0x41, 0x00, 0x42]));
    await assert.rejects(ops.readText('bin.dat'), { code: 'BINARY_FILE' });
    write('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    await assert.rejects(ops.readText('latin1.txt'), { code: 'BINARY_FILE' });
    write('utf8.txt', 'café ✓\n');
    assert.equal((await ops.readText('utf8.txt')).content, 'café ✓\n');
  });

  it('describes files and directories', async () => {
    fs.chmodSync(path.join(root, 'notes.txt'), 0o640);
    const f = await ops.fileStats('notes.txt');
    assert.equal(f.type, 'file');
    assert.equal(f.size, 12);
    assert.equal(f.mode, '0640');
    assert.ok(!Number.isNaN(Date.parse(f.modified)));
    assert.equal((await ops.fileStats('sub')).type, 'directory');
    assert.equal((await ops.fileStats('inner-link')).path, 'sub/a.txt');
  });
});

describe('writeAtomic and createFile', () => {
  const tempFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

  it('replaces the file by rename (new inode), keeps its mode and leaves no temp files', async () => {
    const p = path.join(root, 'notes.txt');
    fs.chmodSync(p, 0o600);
    const inode = fs.statSync(p).ino;
    const res = await ops.writeAtomic('notes.txt', 'replaced\n');
    assert.deepEqual(res, { path: 'notes.txt', bytes: 9, created: false });
    assert.equal(read('notes.txt'), 'replaced\n');
    assert.notEqual(fs.statSync(p).ino, inode, 'content was written in place, not via temp file + rename');
    assert.equal(fs.statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(tempFiles(root), []);
  });

  it('creates new files, and parent directories only when asked', async () => {
    await assert.rejects(ops.writeAtomic('a/b/c.txt', 'x'), { code: 'NOT_FOUND' });
    assert.equal(exists('a'), false);
    const res = await ops.writeAtomic('a/b/c.txt', 'deep', { createDirs: true });
    assert.equal(res.created, true);
    assert.equal(read('a/b/c.txt'), 'deep');
    assert.deepEqual(tempFiles(path.join(root, 'a/b')), []);
  });

  it('enforces the write limit and leaves the file untouched', async () => {
    const small = new FileOps({ roots: [root], maxWriteBytes: 4 });
    await assert.rejects(small.writeAtomic('notes.txt', 'é123'), { code: 'TOO_LARGE' }); // 5 bytes in UTF-8
    await assert.rejects(small.createFile('n.txt', '12345'), { code: 'TOO_LARGE' });
    assert.equal(read('notes.txt'), 'hello\nworld\n');
    assert.equal(exists('n.txt'), false);
    assert.equal((await small.writeAtomic('notes.txt', '1234')).bytes, 4);
  });

  it('keeps a .bak copy or a timestamped one', async () => {
    const res = await ops.writeAtomic('notes.txt', 'v2\n', { backup: true });
    assert.equal(res.backup, 'notes.txt.bak');
    assert.equal(read('notes.txt.bak'), 'hello\nworld\n');
    await ops.writeAtomic('notes.txt', 'v3\n', { backup: true });
    assert.equal(read('notes.txt.bak'), 'v2\n');
    const ts = await ops.writeAtomic('notes.txt', 'v4\n', { backup: 'timestamp' });
    assert.match(ts.backup ?? '', /^notes\.txt\.\d{4}-\d\d-\d\dT[\d-]+Z\.bak$/);
    assert.equal(read(ts.backup ?? ''), 'v3\n');
    assert.equal(read('notes.txt'), 'v4\n');
    const fresh = await ops.writeAtomic('fresh.txt', 'x', { backup: true });
    assert.equal(fresh.backup, undefined);
    assert.deepEqual(tempFiles(root), []);
  });

  it('cleans up the temp file when a write fails, and exclusive commits never replace', async () => {
    const sb = ops.sandbox;
    const target = path.join(root, 'notes.txt');
    await assert.rejects(
      commitTemp(sb, target, 'notes.txt', 'replace', 0, async () => {
        throw new Error('disk full');
      }),
      /disk full/,
    );
    // The race createFile guards against: the name appears after resolve(); link() refuses it.
    await assert.rejects(
      commitTemp(sb, target, 'notes.txt', 'exclusive', 9, async (fh) => {
        await fh.writeFile('clobbered');
      }),
      { code: 'EXISTS' },
    );
    assert.equal(read('notes.txt'), 'hello\nworld\n');
    assert.deepEqual(tempFiles(root), []);
  });

  it('createFile refuses an existing name and leaves it unchanged', async () => {
    const res = await ops.createFile('made.txt', 'made');
    assert.deepEqual(res, { path: 'made.txt', bytes: 4, created: true });
    assert.equal(read('made.txt'), 'made');
    await assert.rejects(ops.createFile('made.txt', 'again'), { code: 'EXISTS' });
    await assert.rejects(ops.createFile('sub', 'x'), { code: 'EXISTS' });
    assert.equal(read('made.txt'), 'made');
    await ops.createFile('x/y/empty.txt', undefined, { createDirs: true });
    assert.equal(read('x/y/empty.txt'), '');
    assert.deepEqual(tempFiles(root), []);
  });
});

describe('deleteFile and move', () => {
  it('deletes files and directories, recursive only when asked', async () => {
    assert.deepEqual(await ops.deleteFile('notes.txt'), { path: 'notes.txt', type: 'file' });
    assert.equal(exists('notes.txt'), false);
    write('full/one.txt', '1');
    write('full/deeper/two.txt', '2');
    await assert.rejects(ops.deleteFile('full'), { code: 'INVALID_ARGUMENT' });
    assert.equal(exists('full/one.txt'), true);
    assert.equal((await ops.deleteFile('full', { recursive: true })).type, 'directory');
    assert.equal(exists('full'), false);
    fs.mkdirSync(path.join(root, 'empty'));
    await ops.deleteFile('empty');
    assert.equal(exists('empty'), false);
    await assert.rejects(ops.deleteFile('notes.txt'), { code: 'NOT_FOUND' });
  });

  it('recursive delete removes links inside without following them', async () => {
    write('d/own.txt', 'x');
    fs.symlinkSync(path.join(outside, 'dir'), path.join(root, 'd', 'out'));
    const before = snapshot(outside);
    await ops.deleteFile('d', { recursive: true });
    assert.equal(exists('d'), false);
    assert.equal(snapshot(outside), before);
  });

  it('moves files and directories without overwriting unless asked', async () => {
    assert.deepEqual(await ops.move('notes.txt', 'moved.txt'), { from: 'notes.txt', to: 'moved.txt' });
    assert.equal(read('moved.txt'), 'hello\nworld\n');
    assert.equal(exists('notes.txt'), false);
    write('other.txt', 'other');
    await assert.rejects(ops.move('moved.txt', 'other.txt'), { code: 'EXISTS' });
    assert.equal(read('other.txt'), 'other');
    assert.equal(read('moved.txt'), 'hello\nworld\n');
    await ops.move('moved.txt', 'other.txt', { overwrite: true });
    assert.equal(read('other.txt'), 'hello\nworld\n');
    assert.equal(exists('moved.txt'), false);
    write('mv/a.txt', 'alpha\n');
    await ops.move('mv', 'nested/mv2', { createDirs: true });
    assert.equal(read('nested/mv2/a.txt'), 'alpha\n');
    assert.equal(exists('mv'), false);
    await assert.rejects(ops.move('nested', 'nested/inside'), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(ops.move('.', 'elsewhere'), { code: 'PATH_INVALID' });
  });
});

describe('listDirectory and fileTree', () => {
  it('lists entries with type and size, hiding denied ones', async () => {
    const res = await ops.listDirectory('.');
    const names = res.entries.map((e) => e.name);
    assert.deepEqual(names, ['cfg', 'dangling', 'devnull', 'hop', 'inner-link', 'link-dir', 'link-file', 'notes.txt', 'sub']);
    assert.deepEqual(
      res.entries.find((e) => e.name === 'notes.txt'),
      { name: 'notes.txt', path: 'notes.txt', type: 'file', size: 12 },
    );
    assert.equal(res.entries.find((e) => e.name === 'sub')?.type, 'directory');
    assert.equal(res.entries.find((e) => e.name === 'link-dir')?.type, 'symlink');
    assert.equal(res.truncated, false);
  });

  it('descends to the requested depth, never into symlinks, and stops at the limit', async () => {
    write('sub/deeper/x.txt', 'x');
    const two = await ops.listDirectory('.', { depth: 2 });
    const paths = two.entries.map((e) => e.path);
    assert.ok(paths.includes('sub/a.txt'));
    assert.ok(paths.includes('sub/deeper'));
    assert.ok(!paths.includes('sub/deeper/x.txt'));
    assert.ok(!paths.some((p) => p.startsWith('link-dir/')));
    assert.ok(!paths.includes('sub/.env.local'));
    const capped = await ops.listDirectory('.', { limit: 3 });
    assert.equal(capped.entries.length, 3);
    assert.equal(capped.truncated, true);
    await assert.rejects(ops.listDirectory('notes.txt'), { code: 'NOT_A_DIRECTORY' });
    await assert.rejects(ops.listDirectory('.', { depth: 0 }), { code: 'INVALID_ARGUMENT' });
  });

  it('builds and renders a tree', async () => {
    write('sub/deeper/x.txt', 'x');
    const { tree, truncated } = await ops.fileTree('sub', 2);
    assert.equal(truncated, false);
    assert.equal(tree.path, 'sub');
    assert.deepEqual(
      tree.children?.map((c) => c.name),
      ['a.txt', 'deeper'],
    );
    assert.deepEqual(
      tree.children?.[1].children?.map((c) => c.path),
      ['sub/deeper/x.txt'],
    );
    assert.equal(renderTree(tree), 'sub/\n├── a.txt\n└── deeper/\n    └── x.txt');
    const shallow = await ops.fileTree('sub', 1);
    assert.equal(shallow.tree.children?.[1].children, undefined);
    assert.equal((await ops.fileTree('.', 3, 2)).truncated, true);
  });
});

describe('search', () => {
  beforeEach(() => {
    write('src/one.ts', 'const foo = 1;\nfoo(foo);\n');
    write('src/two.md', 'Foo bar\nnothing\n');
    write('src/three.ts', 'a.b axb\n');
    write('src/bin.dat', Buffer.from([0x66, 0x6f, 0x6f, 0x00]));
  });

  it('counts literal matches per file with line and column', async () => {
    const res = await ops.search({ pattern: 'foo', path: 'src' });
    assert.deepEqual(res.files, [{ path: 'src/one.ts', matches: 3 }]);
    assert.deepEqual(
      res.matches.map((m) => [m.path, m.line, m.column]),
      [
        ['src/one.ts', 1, 7],
        ['src/one.ts', 2, 1],
        ['src/one.ts', 2, 5],
      ],
    );
    assert.equal(res.matches[1].text, 'foo(foo);');
    assert.equal(res.totalMatches, 3);
    assert.equal(res.truncated, false);
    assert.equal(res.skipped.binary, 1);
    const dot = await ops.search({ pattern: 'a.b', path: 'src' });
    assert.equal(dot.totalMatches, 1, 'a literal "." must not match any character');
  });

  it('supports regex, ignoreCase and a file pattern', async () => {
    assert.equal((await ops.search({ pattern: 'a.b', regex: true, path: 'src' })).totalMatches, 2);
    const ci = await ops.search({ pattern: 'foo', ignoreCase: true, path: 'src' });
    assert.deepEqual(
      ci.files.map((f) => f.path),
      ['src/one.ts', 'src/two.md'],
    );
    const md = await ops.search({ pattern: 'fo+', regex: true, ignoreCase: true, filePattern: '*.md' });
    assert.deepEqual(md.files, [{ path: 'src/two.md', matches: 1 }]);
    const withSlash = await ops.search({ pattern: 'foo', filePattern: 'src/*.ts' });
    assert.deepEqual(
      withSlash.files.map((f) => f.path),
      ['src/one.ts'],
    );
  });

  it('caps returned matches but keeps counting, and flags the cap', async () => {
    const res = await ops.search({ pattern: 'o', path: 'src', maxMatches: 2 });
    assert.equal(res.matches.length, 2);
    assert.equal(res.totalMatches, 7 + 3); // one.ts: "const foo" 3 + "foo(foo)" 4; two.md: "Foo" 2 + "nothing" 1
    assert.equal(res.truncated, true);
  });

  it('never searches denied files or through symlinks leading out', async () => {
    write('.env', 'SENTINEL=1\n');
    write('.git/config', SENTINEL);
    touched = [];
    const res = await ops.search({ pattern: 'SENTINEL' });
    assert.equal(res.totalMatches, 0);
    assert.deepEqual(
      touched.filter((p) => p.startsWith(outside) || p.includes('.git') || p.endsWith('.env')),
      [],
    );
  });

  it('refuses long and invalid regular expressions; runs nested quantifiers in linear time (RE2)', async () => {
    await assert.rejects(ops.search({ pattern: 'a'.repeat(501), regex: true }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(ops.search({ pattern: '(unclosed', regex: true }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(ops.search({ pattern: '(a)\\1', regex: true }), { code: 'INVALID_ARGUMENT', message: /RE2 syntax/ });
    assert.equal((await ops.search({ pattern: 'a'.repeat(501) })).totalMatches, 0, 'literal patterns have no length cap');
    write('src/ddos.txt', `${'a'.repeat(5000)}!\n`);
    for (const pattern of ['(a+)+$', '(\\w*a)*!', '^(a|a)*$']) {
      const t = Date.now();
      await ops.search({ pattern, regex: true, path: 'src/ddos.txt' });
      assert.ok(Date.now() - t < 1000, `${pattern} took ${Date.now() - t} ms`);
    }
    await assert.rejects(ops.search({ pattern: '' }), { code: 'INVALID_ARGUMENT' });
  });

  it('skips files above maxFileBytes', async () => {
    const res = await ops.search({ pattern: 'foo', path: 'src', maxFileBytes: 10 });
    assert.equal(res.totalMatches, 0);
    assert.equal(res.skipped.tooLarge, 2); // one.ts and two.md; three.ts is 8 bytes
    assert.equal(res.filesScanned, 4);
  });
});

describe('editFile', () => {
  it('replaces a unique occurrence, returns the diff and writes atomically', async () => {
    write('code.ts', 'a\nb\nc\nd\ne\nf\ng\n');
    const res = await ops.editFile({ path: 'code.ts', old: 'd\n', new: 'D\nD2\n' });
    assert.equal(res.applied, true);
    assert.equal(res.line, 4);
    assert.equal(read('code.ts'), 'a\nb\nc\nD\nD2\ne\nf\ng\n');
    assert.equal(res.diff, '--- a/code.ts\n+++ b/code.ts\n@@ -1,7 +1,8 @@\n a\n b\n c\n-d\n+D\n+D2\n e\n f\n g\n');
    assert.deepEqual(
      fs.readdirSync(root).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('dry run returns the diff and leaves the file unchanged', async () => {
    const res = await ops.editFile({ path: 'notes.txt', old: 'world', new: 'there', dryRun: true });
    assert.equal(res.applied, false);
    assert.equal(res.diff, '--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n hello\n-world\n+there\n');
    assert.equal(read('notes.txt'), 'hello\nworld\n');
  });

  it('names the count when the text occurs 0 or several times', async () => {
    write('rep.txt', 'x = 1\nx = 1\nx = 1\naaa\n');
    await assert.rejects(ops.editFile({ path: 'rep.txt', old: 'y', new: 'z' }), (e: unknown) => e instanceof SandboxError && e.code === 'NO_MATCH' && /0 times/.test(e.message));
    await assert.rejects(
      ops.editFile({ path: 'rep.txt', old: 'x = 1', new: 'x = 2' }),
      (e: unknown) => e instanceof SandboxError && e.code === 'AMBIGUOUS_MATCH' && /3 times/.test(e.message),
    );
    await assert.rejects(
      ops.editFile({ path: 'rep.txt', old: 'aa', new: 'b' }),
      (e: unknown) => e instanceof SandboxError && e.code === 'AMBIGUOUS_MATCH' && /2 times/.test(e.message),
    );
    await assert.rejects(ops.editFile({ path: 'rep.txt', old: '', new: 'b' }), { code: 'INVALID_ARGUMENT' });
    assert.equal(read('rep.txt'), 'x = 1\nx = 1\nx = 1\naaa\n');
  });

  it('keeps a backup when asked', async () => {
    const res = await ops.editFile({ path: 'notes.txt', old: 'hello', new: 'bye', backup: true });
    assert.equal(res.backup, 'notes.txt.bak');
    assert.equal(read('notes.txt.bak'), 'hello\nworld\n');
    assert.equal(read('notes.txt'), 'bye\nworld\n');
  });
});

describe('unifiedDiff', () => {
  /** Apply a unified diff to `text`, strictly: every context and removed line must match. */
  function applyDiff(text: string, diff: string): string {
    const src = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
    const out: string[] = [];
    let i = 0;
    const lines = diff.split('\n').slice(2, -1);
    for (let k = 0; k < lines.length; k++) {
      const l = lines[k];
      const eol = lines[k + 1] === '\\ No newline at end of file' ? '' : '\n';
      if (l.startsWith('@@')) {
        const m = /^@@ -(\d+)(?:,(\d+))? /.exec(l) as RegExpExecArray;
        const start = m[2] === '0' ? Number(m[1]) : Number(m[1]) - 1;
        while (i < start) out.push(src[i++]);
      } else if (l.startsWith(' ')) {
        assert.equal(src[i++], l.slice(1) + eol);
        out.push(l.slice(1) + eol);
      } else if (l.startsWith('-')) {
        assert.equal(src[i++], l.slice(1) + eol);
      } else if (l.startsWith('+')) {
        out.push(l.slice(1) + eol);
      }
    }
    while (i < src.length) out.push(src[i++]);
    return out.join('');
  }

  it('is empty for equal texts and marks a missing final newline', () => {
    assert.equal(unifiedDiff('same\n', 'same\n'), '');
    assert.equal(unifiedDiff('a\nb', 'a\nb\n', { fromFile: 'x', toFile: 'y' }), '--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n');
    assert.equal(unifiedDiff('', 'new\n'), '--- a\n+++ b\n@@ -0,0 +1 @@\n+new\n');
  });

  it('splits distant changes into separate hunks', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join('');
    const b = a.replace('line 2\n', 'LINE 2\n').replace('line 18\n', 'LINE 18\n');
    const d = unifiedDiff(a, b);
    assert.deepEqual(
      d.split('\n').filter((l) => l.startsWith('@@')),
      ['@@ -1,5 +1,5 @@', '@@ -15,6 +15,6 @@'],
    );
    assert.equal(applyDiff(a, d), b);
  });

  it('produces diffs that apply back to the new text', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: rnd(15) }, () => `${'abc'[rnd(3)]}\n`);
      const b = a.filter(() => rnd(4) !== 0).flatMap((l) => (rnd(5) === 0 ? [l, `${'xyz'[rnd(3)]}\n`] : [l]));
      const at = a.join('') + (rnd(2) ? 'tail' : '');
      const bt = b.join('') + (rnd(2) ? 'tail' : '');
      assert.equal(applyDiff(at, unifiedDiff(at, bt)), bt, JSON.stringify({ at, bt }));
    }
  });
});
