/**
 * A bound on the git processes one git plugin runs at once. Each tool call starts one git
 * after another, and the gateway bounds requests per session only
 * (server.max_inflight_per_session): a client opening sessions could otherwise make it
 * start thousands of processes at once, each with its own memory (a `git pull` from a
 * stalling remote holds one for the whole timeout). Beyond the bound a run waits its turn
 * (first come, first served), for at most its own timeout.
 */
import { GitError } from './git-errors.js';

export class ProcessSlots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('git: max_processes must be a positive integer');
  }

  /** Runs `fn` holding a slot; waits at most `timeoutMs` for one. */
  async run<T>(timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(timeoutMs, what);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(timeoutMs: number, what: string): Promise<void> {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const go = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new GitError('TIMEOUT', `git ${what} waited ${timeoutMs} ms for one of the plugin's ${this.max} git processes (max_processes); try again shortly`));
      }, timeoutMs);
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
