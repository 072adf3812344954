/**
 * A backend process's stderr cut into lines for the gateway's log, in bytes (LF, 0x0A, never
 * occurs inside a multi-byte UTF-8 sequence; decoding is left to the consumer, which decodes
 * only what it keeps). The stream is the backend's to choose, so the work is linear in the
 * bytes received whatever their shape: each chunk is searched once from where the last
 * search ended (many short lines in one chunk, or one line in many small chunks), a line
 * longer than `max` bytes is handed on in pieces of `max` (an endless line, CR-only
 * "lines"), and the held start of a line is at most `max` bytes, in one buffer that grows
 * by doubling. Trailing CR, spaces and tabs are trimmed; blank lines are skipped.
 */

/** Called with bytes `start` to `end` of `buf`, valid only during the call. */
export type LineSink = (buf: Buffer, start: number, end: number) => void;

const LF = 0x0a;
/** A held buffer at most this large is kept for the next line; a larger one is let go once its line is out. */
const KEEP_BYTES = 4096;

export class StderrLines {
  /** The start of the line being read (no LF in it): `held[0..heldBytes)`. */
  private held: Buffer | undefined;
  private heldBytes = 0;

  constructor(
    private readonly max: number,
    private readonly sink: LineSink,
  ) {}

  push(chunk: Buffer): void {
    let from = 0;
    let nl: number;
    while ((nl = chunk.indexOf(LF, from)) >= 0) {
      if (this.heldBytes > 0) {
        this.hold(chunk, from, nl);
        this.flushHeld();
      } else this.piecewise(chunk, from, nl);
      from = nl + 1;
    }
    if (from < chunk.length) this.hold(chunk, from, chunk.length);
  }

  /** The stream ended: what is held is the last line. */
  end(): void {
    if (this.heldBytes > 0) this.flushHeld();
    this.held = undefined;
  }

  /** A whole line of the chunk, handed on in pieces of at most `max` bytes. */
  private piecewise(buf: Buffer, start: number, end: number): void {
    for (; end - start > this.max; start += this.max) this.emit(buf, start, start + this.max);
    this.emit(buf, start, end);
  }

  /** Adds `buf[start..end)` to the held line; every `max` bytes of it go on as a line. */
  private hold(buf: Buffer, start: number, end: number): void {
    while (start < end) {
      const n = Math.min(end - start, this.max - this.heldBytes);
      this.room(this.heldBytes + n);
      buf.copy(this.held!, this.heldBytes, start, start + n);
      this.heldBytes += n;
      start += n;
      if (this.heldBytes === this.max) this.flushHeld();
    }
  }

  private room(need: number): void {
    const cap = this.held?.length ?? 0;
    if (need <= cap) return;
    const next = Buffer.allocUnsafe(Math.min(this.max, Math.max(need, cap * 2, 256)));
    if (this.held) this.held.copy(next, 0, 0, this.heldBytes);
    this.held = next;
  }

  private flushHeld(): void {
    const held = this.held;
    const n = this.heldBytes;
    this.heldBytes = 0;
    if (!held) return;
    this.emit(held, 0, n);
    if (held.length > KEEP_BYTES) this.held = undefined;
  }

  private emit(buf: Buffer, start: number, end: number): void {
    while (end > start) {
      const c = buf[end - 1];
      if (c !== 0x0d && c !== 0x20 && c !== 0x09) break;
      end--;
    }
    if (end > start) this.sink(buf, start, end);
  }
}
