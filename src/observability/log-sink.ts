/**
 * Log lines gathered over one turn of the event loop and handed to the destination in one
 * write (setImmediate runs once the turn's I/O callbacks are done). Under load a turn
 * answers many requests, so their access log lines cost one write instead of one each;
 * when idle a line goes out as soon as the turn that logged it ends, so nothing waits.
 * sonic-boom writes at once to a regular file and off the event loop to anything else
 * (logger.ts); a RotatingFile writes at once. What a turn gathered is written
 * synchronously when the process exits.
 */
import type { DestinationStream } from 'pino';

/** What the batcher needs of its destination: sonic-boom, or a RotatingFile (whose writes are synchronous). */
export interface LineDestination {
  write(data: string): boolean;
  flush?(cb?: (err?: Error) => void): void;
  flushSync?(): void;
}

/** Batchers holding lines of the current turn, written out if the process exits first. */
const holding = new Set<TurnBatcher>();
let exitHook = false;

export class TurnBatcher implements DestinationStream {
  #lines: string[] = [];

  constructor(readonly dest: LineDestination) {}

  write(line: string): boolean {
    if (this.#lines.push(line) === 1) {
      setImmediate(this.#release);
      holding.add(this);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const b of holding) {
            try {
              b.flushSync();
            } catch {
              // The destination never opened, or is closed: nothing to write to.
            }
          }
        });
      }
    }
    return true;
  }

  readonly #release = (): void => {
    if (this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    holding.delete(this);
    this.dest.write(lines.length === 1 ? lines[0] : lines.join(''));
  };

  /** Hands the gathered lines to the destination and asks it to write them (pino's logger.flush()). */
  flush(cb?: (err?: Error) => void): void {
    this.#release();
    if (this.dest.flush) this.dest.flush(cb);
    else cb?.();
  }

  /** Writes everything still held, here and in the destination, before returning. */
  flushSync(): void {
    this.#release();
    this.dest.flushSync?.();
  }
}
