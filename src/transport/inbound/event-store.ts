/**
 * Resumability (Streamable HTTP spec, "Resumability and Redelivery"): each SSE event gets
 * an id; a client that reconnects with Last-Event-ID is replayed what its stream missed.
 * Ids are `<streamId>_<seq>` so the stream can be read back from an id alone.
 *
 * Events are kept as the JSON text that was sent (serialised once, for the wire and the
 * store alike) and bounded three ways, oldest dropped first: a count and a size per
 * session, and a size across all sessions, so that no client can make the gateway hold
 * more than `maxTotalBytes` of replay data whatever it does. A shared store implements
 * the same interface.
 */

export interface EventStore {
  /** Records a message (its JSON text) sent on a stream and returns its event id. */
  append(sessionId: string, streamId: string, data: string): string;
  /** Reserves an event id with no message: the priming event of a stream (2025-11-25). */
  prime(sessionId: string, streamId: string): string;
  /** Messages after `lastEventId` on its stream, in order; undefined when the id is unknown or expired. */
  replayAfter(sessionId: string, lastEventId: string): Promise<{ streamId: string; events: Array<{ id: string; data: string }> } | undefined>;
  dropSession(sessionId: string): void;
}

export interface EventStoreLimits {
  /** Events kept per session (0: none are kept, ids are still issued). */
  maxEvents: number;
  /** Characters of event data kept per session. */
  maxBytes: number;
  /** Characters of event data kept across all sessions. */
  maxTotalBytes: number;
}

interface Stored {
  readonly id: string;
  readonly streamId: string;
  readonly seq: number;
  /** Emptied when the event is dropped: the global list may still reference it for a while. */
  data: string;
  readonly owner: SessionEvents;
  dropped: boolean;
}

interface SessionEvents {
  events: Stored[];
  bytes: number;
  seq: Map<string, number>;
}

/** Streams whose sequence a session remembers (each SSE-answered POST is one). */
const MAX_STREAMS_PER_SESSION = 1024;

export function streamOfEventId(eventId: string): string | undefined {
  const i = eventId.lastIndexOf('_');
  return i > 0 ? eventId.slice(0, i) : undefined;
}

export class MemoryEventStore implements EventStore {
  private readonly sessions = new Map<string, SessionEvents>();
  /** Every kept event in the order appended: the global size bound drops from its head. */
  private global: Stored[] = [];
  private head = 0;
  /** Dropped events still in global[head..]: a session's own bounds drop from the middle of it. */
  private droppedInGlobal = 0;
  private totalBytes = 0;
  private readonly limits: EventStoreLimits;

  constructor(limits: number | Partial<EventStoreLimits>) {
    const l = typeof limits === 'number' ? { maxEvents: limits } : limits;
    this.limits = { maxEvents: l.maxEvents ?? 1000, maxBytes: l.maxBytes ?? 1024 * 1024, maxTotalBytes: l.maxTotalBytes ?? 64 * 1024 * 1024 };
  }

  /** Characters of event data held now (for tests and metrics). */
  get heldBytes(): number {
    return this.totalBytes;
  }

  prime(sessionId: string, streamId: string): string {
    return `${streamId}_${this.nextSeq(this.session(sessionId), streamId)}`;
  }

  private session(sessionId: string): SessionEvents {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { events: [], bytes: 0, seq: new Map() };
      this.sessions.set(sessionId, s);
    }
    return s;
  }

  private nextSeq(s: SessionEvents, streamId: string): number {
    const known = s.seq.get(streamId);
    const seq = (known ?? 0) + 1;
    if (known === undefined && s.seq.size >= MAX_STREAMS_PER_SESSION) {
      // One entry per SSE-answered POST would grow for the session's life: the oldest
      // stream is forgotten (a Last-Event-ID on it then finds nothing, as if expired).
      const oldest = s.seq.keys().next().value as string;
      s.seq.delete(oldest);
      for (const e of s.events.filter((x) => x.streamId === oldest)) this.drop(e);
    }
    s.seq.set(streamId, seq);
    return seq;
  }

  append(sessionId: string, streamId: string, data: string): string {
    const s = this.session(sessionId);
    const seq = this.nextSeq(s, streamId);
    const id = `${streamId}_${seq}`;
    const { maxEvents, maxBytes, maxTotalBytes } = this.limits;
    // An event larger than a bound is not kept: a replay would have to skip it anyway.
    if (maxEvents === 0 || data.length > maxBytes || data.length > maxTotalBytes) return id;
    const e: Stored = { id, streamId, seq, data, owner: s, dropped: false };
    s.events.push(e);
    s.bytes += data.length;
    this.global.push(e);
    this.totalBytes += data.length;
    while (s.events.length > maxEvents || s.bytes > maxBytes) this.drop(s.events[0]);
    while (this.totalBytes > maxTotalBytes) this.dropOldest();
    this.compact();
    return id;
  }

  /** Removes a kept event from its session's list (its session's oldest) and the totals. */
  private drop(e: Stored): void {
    if (e.dropped) return;
    e.dropped = true;
    const list = e.owner.events;
    if (list[0] === e) list.shift();
    else list.splice(list.indexOf(e), 1);
    e.owner.bytes -= e.data.length;
    this.totalBytes -= e.data.length;
    // The global list is trimmed lazily: it must not keep the text alive meanwhile.
    e.data = '';
    this.droppedInGlobal++;
  }

  private dropOldest(): void {
    while (this.head < this.global.length) {
      const e = this.global[this.head++];
      if (e.dropped) {
        this.droppedInGlobal--;
        continue;
      }
      this.drop(e);
      this.droppedInGlobal--; // behind head now
      break;
    }
  }

  /**
   * The global list forgets what is gone once half of it is: entries behind its head
   * (dropped by the total bound) or dropped in place (by a session's own bounds, which
   * never move the head: without this, one session under the total bound grew it forever).
   */
  private compact(): void {
    const gone = this.head + this.droppedInGlobal;
    if (gone > 1024 && gone * 2 > this.global.length) {
      this.global = this.global.slice(this.head).filter((e) => !e.dropped);
      this.head = 0;
      this.droppedInGlobal = 0;
    }
  }

  async replayAfter(sessionId: string, lastEventId: string): Promise<{ streamId: string; events: Array<{ id: string; data: string }> } | undefined> {
    const streamId = streamOfEventId(lastEventId);
    const s = this.sessions.get(sessionId);
    if (!streamId || !s) return undefined;
    const seq = Number(lastEventId.slice(streamId.length + 1));
    // A stream this session never sent an event on (one still to answer as JSON; an id made up) is unknown, as in the Redis store.
    const last = s.seq.get(streamId);
    if (last === undefined || !Number.isInteger(seq) || seq > last) return undefined;
    const events = s.events.filter((e) => e.streamId === streamId && e.seq > seq).map((e) => ({ id: e.id, data: e.data }));
    return { streamId, events };
  }

  dropSession(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    this.sessions.delete(sessionId);
    for (const e of [...s.events]) this.drop(e);
    if (this.totalBytes === 0) {
      this.global = [];
      this.head = 0;
      this.droppedInGlobal = 0;
    } else this.compact();
  }
}
