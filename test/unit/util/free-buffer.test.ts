import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { freeArrayBuffer } from '../../../src/util/free-buffer.js';

describe('freeArrayBuffer', () => {
  it('detaches the buffer and V8 stops counting its memory at once, before any GC', () => {
    const bufs = Array.from({ length: 16 }, () => Buffer.allocUnsafeSlow(1 << 20).fill(1));
    const before = getHeapStatistics().external_memory;
    for (const b of bufs) freeArrayBuffer(b.buffer as ArrayBuffer);
    const after = getHeapStatistics().external_memory;
    for (const b of bufs) {
      assert.equal(b.buffer.byteLength, 0, 'detached');
      assert.equal(b.length, 0, 'a view of it is empty, it reads no other memory');
    }
    // 16 MiB were counted; at least 15 MiB of it no longer is (other allocations may move the count a little).
    assert.ok(before - after >= 15 * (1 << 20), `external memory fell by ${before - after} bytes`);
  });

  it('leaves other buffers alone, and an empty or already freed buffer is no error', () => {
    const keep = Buffer.from('kept');
    const b = Buffer.allocUnsafeSlow(64 * 1024);
    freeArrayBuffer(b.buffer as ArrayBuffer);
    freeArrayBuffer(b.buffer as ArrayBuffer);
    freeArrayBuffer(new ArrayBuffer(0));
    assert.equal(keep.toString(), 'kept');
  });

  it('a buffer that cannot be detached is left as it is, without an error', async () => {
    const { markAsUntransferable } = await import('node:worker_threads');
    const b = Buffer.allocUnsafeSlow(64 * 1024).fill(7);
    markAsUntransferable(b.buffer);
    freeArrayBuffer(b.buffer as ArrayBuffer);
    // Node 20 refuses to transfer it; transfer(0) (Node 22+) may still detach it: either way no throw, and nothing else is touched.
    assert.ok(b.buffer.byteLength === 0 || b[0] === 7);
  });

  it('keeps no event loop alive: a process that only freed a buffer exits', async () => {
    const { execFileSync } = await import('node:child_process');
    const url = new URL('../../../src/util/free-buffer.js', import.meta.url).href;
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { freeArrayBuffer } from ${JSON.stringify(url)}; const b = Buffer.allocUnsafeSlow(1 << 20); freeArrayBuffer(b.buffer); console.log(b.buffer.byteLength);`,
      ],
      {
        timeout: 10_000,
        encoding: 'utf8',
      },
    );
    assert.equal(out.trim(), '0');
  });
});
