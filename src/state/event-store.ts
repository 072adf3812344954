/**
 * The SSE event store in Redis Streams (transport/inbound/event-store.ts's interface), so
 * that a client resuming with Last-Event-ID is replayed what it missed on whichever
 * instance its GET lands (Streamable HTTP spec, "Resumability and Redelivery").
 *
 * append() and prime() must answer at once (the event id goes on the wire before Redis
 * answers), so ids are made here: `<streamId>_<seq>`, where the stream id carries the
 * instance's random tag (streamable-http.ts) and only this instance writes that stream,
 * so a local counter is enough. The writes go to Redis in the order made: each session's
 * writes are chained, and a replay on this instance waits for its session's pending writes,
 * for at most `command_timeout`: while Redis stalls each write waits out that deadline in turn,
 * and a client sent thousands of events meanwhile held its resume GETs for hours. Past it the
 * replay fails (MCPEG_ERR_STATE_UNAVAILABLE: the client retries) rather than leave a gap the
 * client is not told of.
 *
 * One Redis stream per session (`<prefix>events:<session>`), each entry {s: stream id,
 * q: seq, d: JSON text}; a Lua script appends and trims atomically, bounded like the
 * memory store: `maxEvents` entries and `maxBytes` bytes of data per session, oldest first
 * (a byte counter key beside it). Both keys expire `idleMs` after the last append (the
 * session's idle timeout): a session abandoned everywhere leaves nothing behind. The
 * total across sessions is Redis's own `maxmemory` (docs/scaling.md#redis-sizing).
 */
import type { EventStore, EventStoreLimits } from '../transport/inbound/event-store.js';
import { streamOfEventId } from '../transport/inbound/event-store.js';
import { GatewayError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import type { RedisState } from './redis.js';
import { LuaScript } from './script.js';
import { sessionKey } from './session-store.js';

/** KEYS: stream, byte counter. ARGV: stream id, seq, data, maxEvents, maxBytes, ttl ms. */
const APPEND = new LuaScript(`
local maxEvents = tonumber(ARGV[4])
local maxBytes = tonumber(ARGV[5])
redis.call('XADD', KEYS[1], '*', 's', ARGV[1], 'q', ARGV[2], 'd', ARGV[3])
local bytes = redis.call('INCRBY', KEYS[2], #ARGV[3])
local n = redis.call('XLEN', KEYS[1])
while n > maxEvents or bytes > maxBytes do
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #first == 0 then break end
  local f = first[1][2]
  local len = 0
  for i = 1, #f, 2 do if f[i] == 'd' then len = #f[i + 1] end end
  redis.call('XDEL', KEYS[1], first[1][1])
  bytes = redis.call('DECRBY', KEYS[2], len)
  n = n - 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return n
`);

/**
 * KEYS: session record, stream, byte counter. Deletes the events only when the session is
 * gone: an instance that merely drops its local copy of a session served elsewhere now
 * (sessions.ts evictLocal) must not take its events from the other instances.
 */
const DROP_IF_ENDED = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('DEL', KEYS[2], KEYS[3])
`);

/** Streams whose sequence a session remembers here (as the memory store). */
const MAX_STREAMS_PER_SESSION = 1024;
/** Writes waiting for Redis on this instance: past this many, or past `maxTotalBytes` of their data (Redis slow or away), events are not kept for replay. */
const MAX_PENDING = 10_000;

interface Local {
  seq: Map<string, number>;
  /** The last write of this session still on its way to Redis. */
  tail: Promise<void>;
}

export class RedisEventStore implements EventStore {
  private readonly sessions = new Map<string, Local>();
  private pending = 0;
  /** Bytes of event data in the writes waiting for Redis (held in memory until Redis answers). */
  private pendingBytes = 0;
  private failing = false;
  private readonly limits: EventStoreLimits;

  constructor(
    private readonly redis: RedisState,
    /** maxTotalBytes bounds this instance's writes still on their way to Redis (what Redis keeps is bounded by its maxmemory). */
    limits: EventStoreLimits,
    /** server.session_idle_timeout: the events outlive the last append by this much. */
    private readonly idleMs: number,
    private readonly log: Logger,
    /** state.redis.command_timeout: how long a replay waits for its session's writes still on their way to Redis. */
    private readonly writesWaitMs: number,
  ) {
    this.limits = { maxEvents: limits.maxEvents, maxBytes: limits.maxBytes, maxTotalBytes: limits.maxTotalBytes };
  }

  private key(sessionId: string): string {
    return `${this.redis.prefix}events:${sessionId}`;
  }

  private local(sessionId: string): Local {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { seq: new Map(), tail: Promise.resolve() };
      this.sessions.set(sessionId, s);
    }
    return s;
  }

  private nextSeq(s: Local, streamId: string): number {
    const known = s.seq.get(streamId);
    if (known === undefined && s.seq.size >= MAX_STREAMS_PER_SESSION) s.seq.delete(s.seq.keys().next().value as string);
    const seq = (known ?? 0) + 1;
    s.seq.set(streamId, seq);
    return seq;
  }

  prime(sessionId: string, streamId: string): string {
    return `${streamId}_${this.nextSeq(this.local(sessionId), streamId)}`;
  }

  append(sessionId: string, streamId: string, data: string): string {
    const s = this.local(sessionId);
    const seq = this.nextSeq(s, streamId);
    const id = `${streamId}_${seq}`;
    const { maxEvents, maxBytes } = this.limits;
    // An event larger than a bound is not kept: a replay would have to skip it anyway.
    const bytes = Buffer.byteLength(data);
    if (maxEvents === 0 || bytes > maxBytes || this.pending >= MAX_PENDING || this.pendingBytes + bytes > this.limits.maxTotalBytes) return id;
    this.pending++;
    this.pendingBytes += bytes;
    const key = this.key(sessionId);
    const args = [streamId, String(seq), data, String(maxEvents), String(maxBytes), String(this.idleMs)];
    s.tail = s.tail
      .then(() => this.redis.run('storing an SSE event', (c) => APPEND.run(c, [key, `${key}:bytes`], args), bytes))
      .then(
        () => {
          this.failing = false;
        },
        (err: Error) => {
          // The event was sent; only its replay is lost. Logged once per outage.
          if (!this.failing) this.log.warn({ err: err.message }, 'SSE events not stored for replay while the shared state store is unavailable');
          this.failing = true;
        },
      )
      .finally(() => {
        this.pending--;
        this.pendingBytes -= bytes;
      });
    return id;
  }

  async replayAfter(sessionId: string, lastEventId: string): Promise<{ streamId: string; events: Array<{ id: string; data: string }> } | undefined> {
    const streamId = streamOfEventId(lastEventId);
    if (!streamId) return undefined;
    const after = Number(lastEventId.slice(streamId.length + 1));
    if (!Number.isInteger(after) || after < 0) return undefined;
    const mine = this.sessions.get(sessionId);
    if (mine) await this.written(mine.tail);
    // At most maxEvents entries: the script keeps no more.
    const entries = await this.redis.run('replaying SSE events', (c) => c.xRange(this.key(sessionId), '-', '+', { COUNT: Math.max(1, this.limits.maxEvents) }));
    let known = mine?.seq.has(streamId) ?? false;
    const events: Array<{ id: string; data: string }> = [];
    for (const e of entries ?? []) {
      const m = e.message as Record<string, string>;
      if (!Object.hasOwn(m, 's') || m.s !== streamId) continue;
      known = true;
      const seq = Number(m.q);
      if (seq > after && typeof m.d === 'string') events.push({ id: `${streamId}_${seq}`, data: m.d });
    }
    // A stream nobody knows (expired, trimmed away, or made up): as the memory store, undefined.
    return known ? { streamId, events } : undefined;
  }

  /** Waits for a session's writes made so far (`tail` never rejects), for at most writesWaitMs. */
  private async written(tail: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.writesWaitMs)));
    const isLate = await Promise.race([tail.then(() => false), late]).finally(() => clearTimeout(timer));
    if (isLate)
      throw new GatewayError(
        'MCPEG_ERR_STATE_UNAVAILABLE',
        `shared state store unavailable for replaying SSE events: events this session was sent are not all stored after ${this.writesWaitMs} ms`,
      );
  }

  dropSession(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    const key = this.key(sessionId);
    void (s?.tail ?? Promise.resolve())
      .then(() => this.redis.run('dropping SSE events', (c) => DROP_IF_ENDED.run(c, [sessionKey(this.redis.prefix, sessionId), key, `${key}:bytes`], [])))
      .catch(() => {
        // They expire with the session anyway.
      });
  }
}
