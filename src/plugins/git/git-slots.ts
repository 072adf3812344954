/**
 * A bound on the git processes one git plugin runs at once. Each tool call starts one git
 * after another, and the gateway bounds requests per session only
 * (server.max_inflight_per_session): a client opening sessions could otherwise make it
 * start thousands of processes at once, each with its own memory (a `git pull` from a
 * stalling remote holds one for the whole timeout). Beyond the bound a run waits its turn
 * (first come, first served), for at most its own timeout, and only while its call stands:
 * a cancelled call leaves the queue at once (review 27e). Before, cancelled calls kept their
 * place, so a client sending and cancelling filled the queue past max_inflight_per_session,
 * and every other client's git waited behind work nobody would read.
 */
import { GitError } from './git-errors.js';

export class ProcessSlots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('git: max_processes must be a positive integer');
  }

  /** Runs `fn` holding a slot; waits at most `timeoutMs` for one, and not once `signal` aborts. */
  async run<T>(timeoutMs: number, what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(timeoutMs, what, signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(cancelled(what));
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (e: GitError): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(e);
      };
      const go = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => leave(cancelled(what));
      const timer = setTimeout(
        () => leave(new GitError('TIMEOUT', `git ${what} waited ${timeoutMs} ms for one of the plugin's ${this.max} git processes (max_processes); try again shortly`)),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(go);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next)
      next(); // the slot passes straight to the next waiter
    else this.active--;
  }
}

function cancelled(what: string): GitError {
  return new GitError('CANCELLED', `git ${what} was not run: its call was cancelled`);
}
