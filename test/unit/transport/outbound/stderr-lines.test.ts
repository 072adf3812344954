/**
 * StderrLines: a backend's stderr cut into lines in bytes, linear in what it receives
 * whatever its shape (many short lines in one chunk, one line in many small chunks, an
 * endless line, CR-only "lines"), holding at most `max` bytes of an unfinished line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StderrLines } from '../../../../src/transport/outbound/stderr-lines.js';

function collect(max: number): { lines: string[]; s: StderrLines; held: () => number } {
  const lines: string[] = [];
  const s = new StderrLines(max, (b, start, end) => void lines.push(b.toString('utf8', start, end)));
  return { lines, s, held: () => (s as unknown as { held?: Buffer }).held?.length ?? 0 };
}

describe('StderrLines', () => {
  it('lines across chunks, CRLF, trailing blanks trimmed, blank lines skipped, the last line at the end', () => {
    const { lines, s } = collect(1024);
    for (const c of ['one\r\ntw', 'o  \n\n \r\nthr', 'ee\n', 'four']) s.push(Buffer.from(c));
    s.end();
    assert.deepEqual(lines, ['one', 'two', 'three', 'four']);
  });

  it('many short lines in one chunk: each handed on, none copied', () => {
    const { lines, s, held } = collect(1024);
    s.push(Buffer.from('a\n'.repeat(100_000)));
    assert.equal(lines.length, 100_000);
    assert.equal(held(), 0, 'nothing held');
  });

  it('a multi-byte character split across chunks is whole in its line', () => {
    const { lines, s } = collect(1024);
    const b = Buffer.from('héllo\n');
    s.push(b.subarray(0, 2));
    s.push(b.subarray(2));
    assert.deepEqual(lines, ['héllo']);
  });

  it('an endless line goes on in pieces of max bytes, however it is chunked; what is held stays at most max', () => {
    const { lines, s, held } = collect(4096);
    let most = 0;
    for (let i = 0; i < 3 * 4096 + 10; i++) {
      s.push(Buffer.from('x'));
      most = Math.max(most, held());
    }
    assert.deepEqual(
      lines.map((l) => l.length),
      [4096, 4096, 4096],
    );
    assert.ok(most <= 4096, `held ${most} bytes`);
    s.push(Buffer.from('y'.repeat(10_000)));
    assert.deepEqual(
      lines.slice(3).map((l) => l.length),
      [4096, 4096],
    );
    s.push(Buffer.from('\n'));
    assert.deepEqual(
      lines.slice(3).map((l) => l.length),
      [4096, 4096, 10_000 + 10 - 2 * 4096],
    );
    assert.equal(lines[3], `${'x'.repeat(10)}${'y'.repeat(4086)}`);
  });

  it('a long line inside one chunk is cut in pieces of max bytes too', () => {
    const { lines, s } = collect(100);
    s.push(Buffer.from(`${'z'.repeat(250)}\nnext\n`));
    assert.deepEqual(
      lines.map((l) => l.length),
      [100, 100, 50, 4],
    );
  });

  it('CR-only "lines" are one line cut at max (CR is not a line end), and trailing CRs are trimmed', () => {
    const { lines, s } = collect(64);
    s.push(Buffer.from('\r'.repeat(1000)));
    s.push(Buffer.from('a\rb\r\r\n'));
    // 15 pieces of 64 CRs are blank (skipped); the last 40 begin the line that ends at the LF.
    assert.deepEqual(lines, [`${'\r'.repeat(40)}a\rb`]);
  });

  it('is linear: a 64 KiB line in one-byte chunks costs no more than in one chunk, by a margin', () => {
    // The old framer searched the whole held text again for each chunk: 64 Ki chunks × up to 64 KiB each.
    const time = (chunks: Buffer[]) => {
      const { s } = collect(64 * 1024);
      const t = process.hrtime.bigint();
      for (let round = 0; round < 4; round++) for (const c of chunks) s.push(c);
      s.push(Buffer.from('\n'));
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const byte = Buffer.from('x');
    const small = Array.from({ length: 64 * 1024 }, () => byte);
    const ms = time(small);
    assert.ok(ms < 2000, `${ms.toFixed(0)} ms for 256 Ki one-byte chunks`);
  });
});
