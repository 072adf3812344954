/**
 * The answers JSON-RPC batches hold on one gateway instance, together (streamable-http.ts;
 * batch-answers.ts for legacy SSE and stdio).
 * A 2025-03-26 batch answered with one JSON array holds the answers ready before its last
 * one, up to MAX_BATCH_HELD_CHARS each; past that it turns into an SSE stream. Bounded per
 * batch only, any number of batches held theirs at once (review 24): 200 batches of a 1 MB
 * answer and a 12 s tool held all 200 MB until their tools ended, outside
 * `server.max_unsent_bytes` (which counts what waits on sockets), whether the client read or
 * not; more sessions held more. Past this bound a batch turns to SSE at once: its answers go
 * out as they are ready, to a client that reads, and under the edge's bounds on unsent bytes
 * otherwise.
 */

/** A batch's answers held for one JSON array, at most this many characters together (past it: SSE, or each alone on a channel). */
export const MAX_BATCH_HELD_CHARS = 1024 * 1024;

/** Characters of answers all batches of an instance may hold together. */
export const MAX_BATCHES_HELD_CHARS = 64 * 1024 * 1024;

export class BatchHold {
  private chars = 0;

  constructor(readonly limit: number = MAX_BATCHES_HELD_CHARS) {}

  /** Counts `n` more characters held; false when the batches together now hold more than the limit. */
  add(n: number): boolean {
    this.chars += n;
    return this.chars <= this.limit;
  }

  /** `n` characters are no longer held (written, or dropped with their batch). */
  release(n: number): void {
    this.chars = Math.max(0, this.chars - n);
  }

  /** What all batches hold now (for tests and diagnostics). */
  get held(): number {
    return this.chars;
  }
}
