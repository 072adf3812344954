/**
 * What a backend makes the gateway log on its behalf: the lines its processes write to
 * stderr and the log messages (notifications/message) it sends on the gateway's own
 * connections. Backends are not trusted, so this is bounded per backend (line-budget.ts):
 * every replica and child process of a backend shares one budget, so that starting more of
 * them logs no more. Each line is cut at `maxLineBytes`. What the budget refuses is counted,
 * not written; one warn line per window (SUMMARY_MS after the first refusal) says how much.
 * Log messages relayed to a client's own session are the client's and do not come here.
 */
import { DEFAULT_LOG_OUTPUT, type LogOutputConfig } from '../config/schema.js';
import { redactKeys, type Logger } from './logger.js';
import { LineBudget, type LineLimits } from './line-budget.js';

export interface OutputLimits extends LineLimits {
  /** A longer line is cut to this many bytes in the log. */
  maxLineBytes: number;
}

/** How long after the first refused line the summary is written (then again for the next window's). */
export const SUMMARY_MS = 10_000;
const MSG = 'backend log message';

/**
 * A monotonic clock (ms; a wall clock set back would stall the buckets) read once per turn of
 * the event loop: the lines of one stderr read (thousands of short ones in 64 KiB) are judged
 * at one time, with one clock read, not one each.
 */
function turnClock(): () => number {
  let cached: number | undefined;
  const forget = () => {
    cached = undefined;
  };
  return () => {
    if (cached === undefined) {
      cached = performance.now();
      queueMicrotask(forget);
    }
    return cached;
  };
}

export class BackendOutput {
  private readonly budget: LineBudget;
  /** Refused since the last summary: stderr lines and their bytes (as written, before any cut), log messages. */
  private droppedLines = 0;
  private droppedBytes = 0;
  private droppedMessages = 0;
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly limits: Readonly<OutputLimits>,
    private readonly summaryMs = SUMMARY_MS,
    private readonly now: () => number = turnClock(),
  ) {
    this.budget = new LineBudget(limits, now);
  }

  /** One line a process of the backend wrote to stderr: bytes `start` to `end` of `buf` (read now, not kept). */
  stderr(buf: Buffer, start: number, end: number): void {
    if (!this.logs(this.log)) return;
    const size = end - start;
    const keep = Math.min(size, this.limits.maxLineBytes);
    if (!this.budget.take(keep)) {
      this.droppedLines++;
      this.droppedBytes += size;
      this.refused();
      return;
    }
    // Only the kept bytes are decoded; a cut inside a character leaves U+FFFD.
    const text = buf.toString('utf8', start, start + keep);
    if (keep < size) this.log.info({ stream: 'stderr', cutFrom: size }, `${text}…`);
    else this.log.info({ stream: 'stderr' }, text);
  }

  /**
   * A log message the backend sent outside any client's call, written with `log` (its
   * replica's). Measured (as JSON, secret-named keys redacted first) only when a line may
   * pass at all: a flood of them costs a counter each, not a JSON.stringify. Throws what
   * JSON.stringify throws (a message nested too deep): the connection counts it as a message
   * it could not handle.
   */
  message(log: Logger, params: unknown): void {
    if (!this.logs(log)) return;
    if (!this.budget.open()) {
      this.droppedMessages++;
      this.refused();
      return;
    }
    const json = Buffer.from(JSON.stringify(redactKeys(params ?? null)) ?? 'null');
    const keep = Math.min(json.length, this.limits.maxLineBytes);
    if (!this.budget.take(keep)) {
      this.droppedMessages++;
      this.refused();
      return;
    }
    if (keep < json.length) log.info({ mcpLog: `${json.toString('utf8', 0, keep)}…`, cutFrom: json.length }, MSG);
    else log.info({ mcpLog: params }, MSG);
  }

  /** Writes the summary of what was refused, if anything was, and stops the timer (the backend stops). */
  close(): void {
    this.closed = true;
    this.summary();
  }

  /** Nothing of the backend's is logged when its budget is 0, or info lines are not written at all (then nothing is counted either). */
  private logs(log: Logger): boolean {
    return this.limits.linesPerSecond > 0 && log.isLevelEnabled('info');
  }

  private refused(): void {
    if (this.timer || this.closed) return;
    this.since = this.now();
    this.timer = setTimeout(() => this.summary(), this.summaryMs);
    this.timer.unref();
  }

  private summary(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.droppedLines === 0 && this.droppedMessages === 0) return;
    const { linesPerSecond, burst, bytesPerSecond, burstBytes } = this.limits;
    this.log.warn(
      {
        droppedLines: this.droppedLines,
        droppedBytes: this.droppedBytes,
        droppedMessages: this.droppedMessages,
        overMs: Math.round(this.now() - this.since),
        limits: { linesPerSecond, burst, bytesPerSecond, burstBytes },
      },
      'backend output over its log budget: lines dropped',
    );
    this.droppedLines = 0;
    this.droppedBytes = 0;
    this.droppedMessages = 0;
  }
}

/** The log budget of backend `name` (`log_output` in its config; the defaults without). `log`: the gateway's logger. */
export function backendOutput(name: string, log: Logger, cfg: Readonly<LogOutputConfig> = DEFAULT_LOG_OUTPUT): BackendOutput {
  return new BackendOutput(log.child({ backend: name }), {
    linesPerSecond: cfg.lines_per_second,
    burst: cfg.burst,
    bytesPerSecond: cfg.bytes_per_second,
    burstBytes: cfg.burst_bytes,
    maxLineBytes: cfg.max_line_bytes,
  });
}
