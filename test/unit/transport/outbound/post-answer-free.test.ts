/**
 * A JSON answer read in several pieces is joined, and the socket reads that were body and
 * nothing else are freed at once (util/free-buffer.ts): never the last one (undici is still
 * parsing it), nor a piece that is a view of a larger buffer (a read that also held headers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { AnswerHandler, type PostAnswer } from '../../../../src/transport/outbound/post-answer.js';

function read(text: string): Buffer {
  const own = Buffer.from(new ArrayBuffer(Buffer.byteLength(text)));
  own.write(text);
  return own;
}

const controller = { abort() {}, pause() {}, resume() {} } as unknown as Dispatcher.DispatchController;

function answer(pieces: Buffer[]): PostAnswer {
  let got: PostAnswer | undefined;
  const h = new AnswerHandler(
    { maxJsonBytes: 1 << 26, maxErrorBytes: 4096 },
    (a) => (got = a),
    (err) => assert.fail(err),
    () => {},
  );
  h.onRequestStart(controller);
  h.onResponseStart(controller, 200, { 'content-type': 'application/json' });
  for (const p of pieces) h.onResponseData(controller, p);
  h.onResponseEnd();
  assert.ok(got);
  return got;
}

describe('JSON answers in several reads: reads freed once joined', () => {
  it('frees the whole reads before the last; keeps views of larger buffers, small reads and the last read', () => {
    const withHeaders = Buffer.from(`HTTP/1.1 200 OK\r\n\r\n{"a":"${'p'.repeat(30_000)}`);
    const first = withHeaders.subarray(19); // body after the head: a view of the read
    const whole = [read('q'.repeat(40_000)), read('r'.repeat(40_000))];
    const small = read('s'.repeat(10));
    const last = read(`${'t'.repeat(20_000)}"}`);
    const a = answer([first, ...whole, small, last]);
    assert.equal(a.owned, true);
    assert.equal(a.bytes?.toString(), `{"a":"${'p'.repeat(30_000)}${'q'.repeat(40_000)}${'r'.repeat(40_000)}${'s'.repeat(10)}${'t'.repeat(20_000)}"}`);
    for (const w of whole) assert.equal(w.buffer.byteLength, 0, 'freed');
    assert.equal(withHeaders.toString().startsWith('HTTP/1.1 200 OK'), true, 'the larger read is intact');
    assert.equal(small.buffer.byteLength, 10, 'small: left to the GC');
    assert.equal(last.buffer.byteLength > 0, true, 'the last read: kept');
  });

  it('an answer in one read is handed over as it is (shared, not freed)', () => {
    const only = read('{"one":true}');
    const a = answer([only]);
    assert.equal(a.owned, false);
    assert.equal(a.bytes, only);
    assert.equal(only.buffer.byteLength > 0, true);
  });
});
