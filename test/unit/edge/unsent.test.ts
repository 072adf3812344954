/**
 * The sweep of src/edge/unsent.ts over connections whose state the test sets (node's
 * writable length, bytes written, libuv's write queue) and a clock it moves: what counts as
 * progress, when send_timeout closes a connection, and which connections max_unsent_bytes
 * closes first. test/security/slow-reader-answers.test.ts performs the attack on real sockets.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { UnsentWatch } from '../../../src/edge/unsent.js';
import { silentLogger } from '../../../src/observability/logger.js';

class FakeSocket extends EventEmitter {
  writableLength = 0;
  bytesWritten = 0;
  destroyed = false;
  _handle = { writeQueueSize: 0 };
  constructor(readonly name: string) {
    super();
  }
  /** Node queues `n` bytes: one write in flight, partly in libuv's queue. */
  queue(n: number): void {
    this.writableLength += n;
    this.bytesWritten += n;
    this._handle.writeQueueSize += n;
  }
  /** Node buffers `n` more bytes behind the write in flight. */
  buffer(n: number): void {
    this.writableLength += n;
    this.bytesWritten += n;
  }
  /** The kernel takes `n` bytes of the write in flight. */
  take(n: number): void {
    this._handle.writeQueueSize -= n;
    if (this._handle.writeQueueSize === 0) this.writableLength = 0;
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function setup(limits: { sendTimeoutMs: number; maxUnsentBytes: number }) {
  let t = 0;
  const watch = new UnsentWatch(limits, silentLogger(), undefined, () => t);
  const sockets = (names: string[]) =>
    names.map((n) => {
      const s = new FakeSocket(n);
      watch.track(s as unknown as Socket);
      return s;
    });
  return { watch, sockets, advance: (ms: number) => (t += ms) };
}

describe('UnsentWatch', () => {
  it('send_timeout closes a connection that took nothing for that long, and only that one', () => {
    const { watch, sockets, advance } = setup({ sendTimeoutMs: 3000, maxUnsentBytes: 0 });
    const [stalled, steady, idle] = sockets(['stalled', 'steady', 'idle']);
    stalled.queue(1000);
    steady.queue(1000);
    watch.sweep();
    for (let i = 0; i < 3; i++) {
      advance(1000);
      steady.take(100); // a partial write: progress though the write in flight is not done
      watch.sweep();
    }
    assert.equal(stalled.destroyed, true);
    assert.equal(steady.destroyed, false);
    assert.equal(idle.destroyed, false, 'nothing waiting: never closed, however long it is quiet');
    advance(10_000);
    watch.sweep();
    assert.equal(steady.destroyed, true, 'once it stops taking, its turn comes');
    assert.equal(idle.destroyed, false);
  });

  it('a new answer after a completed one is progress; waiting starts when bytes wait, not when the connection opened', () => {
    const { watch, sockets, advance } = setup({ sendTimeoutMs: 3000, maxUnsentBytes: 0 });
    const [s] = sockets(['s']);
    advance(60_000);
    s.queue(500);
    watch.sweep();
    advance(2000);
    s.take(500);
    s.queue(500); // the next answer, queued as the previous one completed
    watch.sweep();
    advance(2000);
    watch.sweep();
    assert.equal(s.destroyed, false);
    advance(1000);
    watch.sweep();
    assert.equal(s.destroyed, true);
  });

  it('max_unsent_bytes closes the stalled connections first, fullest first, then the fullest moving ones, until the rest fits', () => {
    const { watch, sockets, advance } = setup({ sendTimeoutMs: 0, maxUnsentBytes: 1000 });
    const [small, big, moving, huge] = sockets(['small-stalled', 'big-stalled', 'moving', 'huge-moving']);
    small.queue(300);
    big.queue(500);
    moving.queue(100);
    huge.queue(100);
    assert.equal(watch.sweep(), 0, 'exactly the bound: nothing closed');
    advance(1000);
    moving.buffer(500);
    huge.buffer(3900);
    moving.take(10);
    huge.take(10);
    // 300 + 500 + 600 + 4000 waiting: the stalled ones go first (500, then 300), then the fullest moving one.
    assert.equal(watch.sweep(), 3);
    assert.deepEqual(
      [small, big, moving, huge].map((s) => s.destroyed),
      [true, true, false, true],
    );
  });

  it('a closed connection is forgotten', () => {
    const { watch, sockets } = setup({ sendTimeoutMs: 1000, maxUnsentBytes: 100 });
    const [s] = sockets(['s']);
    s.queue(500);
    s.destroy();
    assert.equal(watch.sweep(), 0);
  });
});
