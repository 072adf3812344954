/**
 * The stdio transport frees a read once the line it lay wholly inside is joined (util/free-buffer.ts):
 * only such reads. A read that also holds another line (or the next line's start) is left to the GC,
 * since a line read in one piece is relayed as a view of that read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StdioClient } from '../../../../src/transport/outbound/stdio-transport.js';
import { RawJson } from '../../../../src/wire/raw-json.js';

/** A read as a pipe gives it: a Buffer spanning an ArrayBuffer of its own. */
function read(text: string): Buffer {
  const b = Buffer.from(text);
  const own = Buffer.from(new ArrayBuffer(b.length));
  b.copy(own);
  return own;
}

function client(): { c: StdioClient; got: unknown[]; feed: (b: Buffer) => void } {
  const c = new StdioClient({ command: 'unused', args: [], env: {}, onStderrLine: () => {} });
  c.rawResults = true;
  const got: unknown[] = [];
  c.onmessage = (m) => void got.push(m);
  return { c, got, feed: (b) => (c as unknown as { receive(b: Buffer): void }).receive(b) };
}

const resultOf = (m: unknown) => (m as { result: RawJson | Record<string, unknown> }).result;
const text = (r: RawJson | Record<string, unknown>) => (r instanceof RawJson ? r.text() : JSON.stringify(r));

describe('stdio transport: reads freed once copied', () => {
  it('frees the reads wholly inside a joined line, and only those', () => {
    const { got, feed } = client();
    const big = 'x'.repeat(40_000);
    const first = read(`{"jsonrpc":"2.0","id":1,"result":{"n":1}}\n{"jsonrpc":"2.0","id":2,"result":{"t":"`);
    const middle = [read(big), read(big)];
    const last = read(`"}}\n{"jsonrpc":"2.0","id":3,"result":{"n":3}}\n`);
    for (const b of [first, ...middle, last]) feed(b);
    assert.equal(got.length, 3);
    for (const m of middle) assert.equal(m.buffer.byteLength, 0, 'a read wholly inside line 2: freed');
    assert.equal(first.buffer.byteLength > 0, true, 'holds line 1 (relayed as a view of it): kept');
    assert.equal(last.buffer.byteLength > 0, true, 'holds line 3: kept');
    // Every result still reads as it came, the views of kept reads included.
    assert.equal(text(resultOf(got[0])), '{"n":1}');
    assert.equal(text(resultOf(got[1])), `{"t":"${big}${big}"}`);
    assert.equal(text(resultOf(got[2])), '{"n":3}');
  });

  it('a small read, or one that is a view of a larger buffer, is never freed', () => {
    const { got, feed } = client();
    const shared = Buffer.from(`${'y'.repeat(30_000)}|rest`);
    const slice = shared.subarray(0, 30_000); // a view: its ArrayBuffer holds more than it
    const small = read('z'.repeat(100));
    feed(read('{"jsonrpc":"2.0","id":1,"result":{"t":"'));
    feed(slice);
    feed(small);
    feed(read('"}}\n'));
    assert.equal(got.length, 1);
    assert.equal(shared.toString().endsWith('|rest'), true, 'the larger buffer is intact');
    assert.equal(small.buffer.byteLength, 100, 'a small read is left to the GC');
    assert.equal(text(resultOf(got[0])), `{"t":"${'y'.repeat(30_000)}${'z'.repeat(100)}"}`);
  });
});
