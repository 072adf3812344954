/**
 * Resumability (Streamable HTTP spec, "Resumability and Redelivery"): each SSE event gets
 * an id; a client that reconnects with Last-Event-ID is replayed what its stream missed.
 * Ids are `<streamId>_<seq>` so the stream can be read back from an id alone. The
 * in-memory store keeps at most `maxEvents` per session (oldest dropped first); a shared
 * store implements the same interface.
 */
import type { JsonRpcMessage } from '../../protocol/jsonrpc.js';

export interface EventStore {
  /** Records a message sent on a stream and returns its event id. */
  append(sessionId: string, streamId: string, message: JsonRpcMessage): string;
  /** Reserves an event id with no message: the priming event of a stream (2025-11-25). */
  prime(sessionId: string, streamId: string): string;
  /** Messages after `lastEventId` on its stream, in order; undefined when the id is unknown or expired. */
  replayAfter(sessionId: string, lastEventId: string): Promise<{ streamId: string; events: Array<{ id: string; message: JsonRpcMessage }> } | undefined>;
  dropSession(sessionId: string): void;
}

interface Stored {
  id: string;
  streamId: string;
  seq: number;
  message: JsonRpcMessage;
}

export function streamOfEventId(eventId: string): string | undefined {
  const i = eventId.lastIndexOf('_');
  return i > 0 ? eventId.slice(0, i) : undefined;
}

export class MemoryEventStore implements EventStore {
  private readonly sessions = new Map<string, { events: Stored[]; seq: Map<string, number> }>();
  constructor(private readonly maxEvents: number) {}

  prime(sessionId: string, streamId: string): string {
    return `${streamId}_${this.nextSeq(sessionId, streamId).seq}`;
  }

  private nextSeq(sessionId: string, streamId: string): { s: { events: Stored[]; seq: Map<string, number> }; seq: number } {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { events: [], seq: new Map() };
      this.sessions.set(sessionId, s);
    }
    const seq = (s.seq.get(streamId) ?? 0) + 1;
    s.seq.set(streamId, seq);
    return { s, seq };
  }

  append(sessionId: string, streamId: string, message: JsonRpcMessage): string {
    const { s, seq } = this.nextSeq(sessionId, streamId);
    const id = `${streamId}_${seq}`;
    if (this.maxEvents > 0) {
      s.events.push({ id, streamId, seq, message });
      if (s.events.length > this.maxEvents) s.events.splice(0, s.events.length - this.maxEvents);
    }
    return id;
  }

  async replayAfter(sessionId: string, lastEventId: string): Promise<{ streamId: string; events: Array<{ id: string; message: JsonRpcMessage }> } | undefined> {
    const streamId = streamOfEventId(lastEventId);
    const s = this.sessions.get(sessionId);
    if (!streamId || !s) return undefined;
    const seq = Number(lastEventId.slice(streamId.length + 1));
    if (!Number.isInteger(seq) || seq > (s.seq.get(streamId) ?? 0)) return undefined;
    const events = s.events.filter((e) => e.streamId === streamId && e.seq > seq).map((e) => ({ id: e.id, message: e.message }));
    return { streamId, events };
  }

  dropSession(sessionId: string): void {
    this.sessions.delete(sessionId);
  }
}
