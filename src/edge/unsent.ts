/**
 * Answers a client does not take. The gateway writes every answer whole (a result is one
 * JSON text, up to what a backend may send), and a client that stops reading leaves it in
 * the gateway's memory: per connection, for as long as the connection stays open, on as
 * many connections as `server.max_connections` allows. Two bounds, checked by one sweep a
 * second over the open connections (no cost per request):
 *
 * - `server.send_timeout`: a connection with bytes waiting for its client, that has taken
 *   none of them for this long, is closed (nginx's `send_timeout`: the time between two
 *   successive writes the client accepts, not the whole answer's).
 * - `server.max_unsent_bytes`: bytes waiting on all connections together. Past it, the
 *   connections holding them are closed until the rest fits: first those that took nothing
 *   since the last sweep, the fullest first, then the fullest of the others (as Envoy's
 *   overload manager resets the streams holding the most buffer memory).
 *
 * What waits is `socket.writableLength`: node's buffer and the write in flight, which node
 * keeps whole until the kernel has taken all of it. Progress is a write completed, or the
 * write in flight's remainder in libuv (`writeQueueSize`) shrinking.
 *
 * `mcpeg stdio` watches its stdout for `send_timeout` the same way (transport/inbound/stdio.ts,
 * which checks `max_unsent_bytes` at each write); closing it ends that session.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { slowClients } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';

export interface UnsentLimits {
  /** ms without progress after which a connection with waiting bytes is closed; 0: never. */
  sendTimeoutMs: number;
  /** Waiting bytes on all connections together; 0: no bound. */
  maxUnsentBytes: number;
}

/** One connection's progress as the last sweep saw it. */
interface Mark {
  readonly socket: Socket;
  /** What closing it means (destroying the socket, unless its owner says otherwise). */
  readonly close: () => void;
  /** Bytes of completed writes (bytesWritten counts what was dispatched or buffered too). */
  completed: number;
  /** The write in flight's remainder in libuv. */
  queued: number;
  /** When it last took something while bytes waited; -1 when nothing waits. */
  since: number;
  /** Waiting bytes at this sweep, and whether it took something since the last one. */
  unsent: number;
  moved: boolean;
}

const SWEEP_MS = 1000;

const queuedOf = (s: Socket): number => (s as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;

export class UnsentWatch {
  private readonly marks = new Map<Socket, Mark>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: UnsentLimits,
    private readonly log: Logger,
    private readonly source: unknown,
    private readonly now: () => number = Date.now,
  ) {}

  /** Follows every connection `server` accepts, from now until it closes. */
  attach(server: Server): void {
    if (this.limits.sendTimeoutMs <= 0 && this.limits.maxUnsentBytes <= 0) return;
    server.on('connection', (socket: Socket) => this.track(socket));
    server.once('listening', () => this.start());
    server.once('close', () => this.stop());
  }

  /** `close`: what closing it means, when more than destroying the socket (the stdio edge ends its session). */
  track(socket: Socket, close: () => void = () => socket.destroy()): void {
    this.marks.set(socket, { socket, close, completed: 0, queued: 0, since: -1, unsent: 0, moved: false });
    socket.once('close', () => this.marks.delete(socket));
  }

  start(): void {
    this.timer ??= setInterval(() => this.sweep(), Math.min(SWEEP_MS, Math.max(50, this.limits.sendTimeoutMs / 4 || SWEEP_MS)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: marks progress, closes what waited too long, then what does not fit. Returns how many it closed. */
  sweep(): number {
    const t = this.now();
    const { sendTimeoutMs, maxUnsentBytes } = this.limits;
    let total = 0;
    let timedOut = 0;
    let timedOutBytes = 0;
    const waiting: Mark[] = [];
    for (const m of this.marks.values()) {
      const s = m.socket;
      const unsent = s.destroyed ? 0 : s.writableLength;
      const completed = s.bytesWritten - unsent;
      const queued = queuedOf(s);
      // Waiting since this sweep (nothing waited at the last one) counts as moving: no time to judge it yet.
      m.moved = m.since < 0 || completed !== m.completed || queued < m.queued;
      m.completed = completed;
      m.queued = queued;
      m.unsent = unsent;
      if (unsent === 0) {
        m.since = -1;
        continue;
      }
      if (m.moved) m.since = t;
      else if (sendTimeoutMs > 0 && t - m.since >= sendTimeoutMs) {
        timedOut++;
        timedOutBytes += unsent;
        this.close(m);
        continue;
      }
      total += unsent;
      waiting.push(m);
    }
    let over = 0;
    let overBytes = 0;
    if (maxUnsentBytes > 0 && total > maxUnsentBytes) {
      // Stalled ones first, the fullest first within each group.
      waiting.sort((a, b) => Number(a.moved) - Number(b.moved) || b.unsent - a.unsent);
      for (const m of waiting) {
        if (total <= maxUnsentBytes) break;
        total -= m.unsent;
        over++;
        overBytes += m.unsent;
        this.close(m);
      }
    }
    if (timedOut > 0) this.report('send_timeout', timedOut, timedOutBytes);
    if (over > 0) this.report('max_unsent_bytes', over, overBytes);
    return timedOut + over;
  }

  private close(m: Mark): void {
    this.marks.delete(m.socket);
    m.close();
  }

  /** One line per sweep and reason, whatever the number of connections: a flood of slow clients cannot flood the log. */
  private report(reason: 'send_timeout' | 'max_unsent_bytes', connections: number, bytes: number): void {
    if (slowClients.hasSubscribers) slowClients.publish({ source: this.source, reason, connections });
    this.log.warn(
      { reason, connections, bytes, limit: reason === 'send_timeout' ? this.limits.sendTimeoutMs : this.limits.maxUnsentBytes },
      reason === 'send_timeout'
        ? 'closed client connections that took none of their answer for server.send_timeout'
        : 'closed client connections holding the most unsent bytes: past server.max_unsent_bytes',
    );
  }
}
