/**
 * The rotating log file (src/observability/log-file.ts): rotation by size and on request,
 * real gzip archives with the newest in .1.gz, the kept count, reopen after an outside
 * move (logrotate), and a leftover from a crash compressed on open.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { parseSize, RotatingFile } from '../../../src/observability/log-file.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-logfile-'));
let n = 0;
const fresh = () => join(dir, `l${++n}`, 'mcpeg.log');
const gz = (f: string) => gunzipSync(readFileSync(f)).toString('utf8');

after(() => rmSync(dir, { recursive: true, force: true }));

describe('RotatingFile', () => {
  it('rotate(): archive gzipped to .1.gz, a fresh file, older archives shifted, at most keep', async () => {
    const f = fresh();
    const log = new RotatingFile(f, { maxBytes: 0, keep: 2 });
    for (const word of ['one', 'two', 'three']) {
      log.write(`${word}\n`);
      const r = await log.rotate();
      assert.deepEqual(r, { action: 'rotated', archive: `${f}.1.gz` });
    }
    log.write('four\n');
    await log.close();
    assert.equal(readFileSync(f, 'utf8'), 'four\n');
    assert.equal(gz(`${f}.1.gz`), 'three\n');
    assert.equal(gz(`${f}.2.gz`), 'two\n');
    assert.ok(!existsSync(`${f}.3.gz`), 'keep: 2');
    assert.deepEqual(readdirSync(join(f, '..')).sort(), ['mcpeg.log', 'mcpeg.log.1.gz', 'mcpeg.log.2.gz']);
  });

  it('rotates by size without splitting a line', async () => {
    const f = fresh();
    const log = new RotatingFile(f, { maxBytes: 100, keep: 5 });
    const line = `${'x'.repeat(39)}\n`;
    for (let i = 0; i < 7; i++) log.write(line);
    await log.drain();
    await log.close();
    // 3 lines (120 bytes) reach the limit: two archives of 3 lines, one line left.
    assert.equal(gz(`${f}.2.gz`), line.repeat(3));
    assert.equal(gz(`${f}.1.gz`), line.repeat(3));
    assert.equal(readFileSync(f, 'utf8'), line);
  });

  it('rotateOrReopen(): a file moved away is only reopened; otherwise it rotates', async () => {
    const f = fresh();
    const log = new RotatingFile(f, { maxBytes: 0, keep: 3 });
    log.write('before\n');
    renameSync(f, `${f}.moved`);
    assert.deepEqual(await log.rotateOrReopen(), { action: 'reopened' });
    log.write('after\n');
    assert.equal(readFileSync(`${f}.moved`, 'utf8'), 'before\n');
    assert.equal(readFileSync(f, 'utf8'), 'after\n');
    assert.ok(!existsSync(`${f}.1.gz`));
    assert.equal((await log.rotateOrReopen()).action, 'rotated');
    assert.equal(gz(`${f}.1.gz`), 'after\n');
    await log.close();
  });

  it('keep 0 discards the rotated content', async () => {
    const f = fresh();
    const log = new RotatingFile(f, { maxBytes: 0, keep: 0 });
    log.write('gone\n');
    assert.deepEqual(await log.rotate(), { action: 'rotated' });
    await log.close();
    assert.deepEqual(readdirSync(join(f, '..')), ['mcpeg.log']);
  });

  it('compresses a .rotating file left by a crash when it opens', async () => {
    const f = fresh();
    const first = new RotatingFile(f, { maxBytes: 0, keep: 1 });
    first.write('x\n');
    await first.close();
    writeFileSync(`${f}.123-1-1.rotating`, 'left over\n');
    const log = new RotatingFile(f, { maxBytes: 0, keep: 1 });
    await log.drain();
    await log.close();
    assert.equal(gz(`${f}.1.gz`), 'left over\n');
    assert.ok(!readdirSync(join(f, '..')).some((x) => x.endsWith('.rotating')));
  });

  it('parseSize uses the config units', () => {
    assert.equal(parseSize('10MB'), 10_000_000);
    assert.equal(parseSize('1MiB'), 1_048_576);
    assert.equal(parseSize('512 KiB'), 524_288);
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('ten'), undefined);
    assert.equal(parseSize('5XB'), undefined);
  });
});
