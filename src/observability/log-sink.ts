/**
 * Log lines gathered for a few milliseconds and handed to the destination in one write.
 * Under load that is hundreds of lines (the access log's) in one write; at one request at
 * a time it is still tens of them, where a write per event-loop turn was a write per
 * request (~6% of the gateway's CPU per call, profiled). A burst past MAX_HELD characters
 * is handed over at once, so what is held stays small. sonic-boom writes at once to a
 * regular file and off the event loop to anything else (logger.ts); a RotatingFile writes
 * at once. What is held is written synchronously when the process exits; only a process
 * killed outright (SIGKILL) loses it: at most FLUSH_MS of lines.
 */
import type { DestinationStream } from 'pino';

/** The longest a line waits for others before it is written (Envoy's access log waits up to 10 s, nginx's `flush=` is the operator's choice). */
export const FLUSH_MS = 25;
/** Characters held past which they are handed over at once, without waiting for the timer. */
export const MAX_HELD = 64 * 1024;

/** What the batcher needs of its destination: sonic-boom, or a RotatingFile (whose writes are synchronous). */
export interface LineDestination {
  write(data: string): boolean;
  flush?(cb?: (err?: Error) => void): void;
  flushSync?(): void;
}

/** Batchers holding lines, written out if the process exits first. */
const holding = new Set<LineBatcher>();
let exitHook = false;

export class LineBatcher implements DestinationStream {
  #lines: string[] = [];
  #held = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `flushMs`: how long a line may wait (FLUSH_MS; tests give a longer one). */
  constructor(
    readonly dest: LineDestination,
    private readonly flushMs = FLUSH_MS,
  ) {}

  write(line: string): boolean {
    this.#held += line.length;
    if (this.#lines.push(line) === 1) {
      // Unref'd: held lines never keep a process alive; its exit writes them.
      this.#timer = setTimeout(this.#release, this.flushMs).unref();
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
    } else if (this.#held >= MAX_HELD) {
      this.#release();
    }
    return true;
  }

  readonly #release = (): void => {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    this.#held = 0;
    holding.delete(this);
    this.dest.write(lines.length === 1 ? lines[0] : lines.join(''));
  };

  /** Hands the held lines to the destination and asks it to write them (pino's logger.flush()). */
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
