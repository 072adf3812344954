/**
 * A counting semaphore with a bounded wait queue: at most `max` holders, at most
 * `maxWaiting` waiters (FIFO); beyond that `acquire` refuses at once. Used per client
 * session, so that one client (a 2025-03-26 batch of thousands of requests, or a burst
 * of POSTs on one session) cannot make the gateway run unbounded work at once.
 * The fast path (a free slot) is synchronous and allocates nothing.
 */
import { GatewayError } from '../errors/catalog.js';
import type { Cancellation } from '../util/cancellation.js';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class ConcurrencyLimit {
  private holders = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly maxWaiting: number,
    /** Named in the refusal, so the client and the operator know which limit it was. */
    private readonly setting: string,
  ) {}

  get active(): number {
    return this.holders;
  }

  get queued(): number {
    return this.waiting.length;
  }

  tryAcquire(): boolean {
    if (this.holders >= this.max) return false;
    this.holders++;
    return true;
  }

  /** Waits for a slot; rejects when the queue is full or the request is cancelled while waiting. */
  acquire(cancel?: Cancellation): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new GatewayError(
          'MCPEG_ERR_SESSION_BUSY',
          `this session has ${this.holders} requests in flight and ${this.waiting.length} waiting (${this.setting} ${this.max}); wait for answers before sending more`,
          { retryAfterMs: 1000 },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      this.waiting.push(w);
      cancel?.onCancel((reason) => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `request cancelled while waiting for a slot: ${String(reason)}`));
      });
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next)
      next.resolve(); // the slot passes straight to the next waiter
    else this.holders--;
  }
}
