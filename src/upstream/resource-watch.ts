/**
 * resources/subscribe for stateful clients of a replica that speaks only 2026-07-28. The
 * revision removed resources/subscribe: a client names the resources it wants to hear
 * about in `resourceSubscriptions` of subscriptions/listen (SEP-2575). The replica holds
 * one such listen stream for every URI its stateful clients subscribed to; when the set
 * changes, a stream with the new set is opened and, once the backend acknowledged it,
 * the old one is cancelled. A URI the acknowledgement leaves out is not honoured, and the
 * client's resources/subscribe is answered -32601 as it would have been without this.
 * Updates arrive as notifications/resources/updated, which the replica hands to its
 * listener like any backend's (subscribed client sessions get them).
 */
import { GatewayError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import { Cancellation } from '../util/cancellation.js';
import type { BackendConnection } from './connection.js';

/** Distinct URIs one replica watches for its clients, and their total length: each listen request carries them all. */
export const MAX_WATCHED = 1000;
export const MAX_WATCHED_CHARS = 256 * 1024;
/** What one holder (client session) may take of those bounds, so that no single client can fill them for all others. */
export const MAX_WATCHED_PER_HOLDER = MAX_WATCHED / 8;
export const MAX_WATCHED_CHARS_PER_HOLDER = MAX_WATCHED_CHARS / 8;
/** A listen stream the backend ended is opened again after this pause while URIs are watched. */
const RELISTEN_MS = 5000;

/** Who holds a subscription: a client session. Its URIs are let go when it closes (and pruned whenever the set changes). */
export interface Holder {
  readonly isClosed: boolean;
  /** Runs `fn` once when the holder closes. */
  whenClosed?(fn: () => void): void;
}

export interface WatchHost {
  readonly name: string;
  readonly log: Logger;
  /** How long to wait for the backend's acknowledgement of a listen stream. */
  readonly timeoutMs: number;
  /** The replica's stateless connection, while it is up. */
  connection(): BackendConnection | undefined;
}

interface Stream {
  conn: BackendConnection;
  cancel: Cancellation;
  uris: ReadonlySet<string>;
  honoured: ReadonlySet<string>;
}

export class ResourceWatch {
  private readonly holders = new Map<string, Set<Holder>>();
  private current: Stream | undefined;
  /** Changes of the listen stream, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** A change queued and not yet started: later ones join it (it reads the URIs when it starts). */
  private queued: Promise<void> | undefined;
  private chars = 0;
  /** Per holder: how many of the watched URIs it holds, and their length. */
  private shares = new WeakMap<Holder, { uris: number; chars: number }>();
  private retry: NodeJS.Timeout | undefined;
  /** Holders this watch has asked to hear of their closing (once each). */
  private hooked = new WeakSet<Holder>();

  constructor(private readonly host: WatchHost) {}

  /** Adds `uri` for `holder`; throws MCPEG_ERR_METHOD_NOT_FOUND when the backend does not honour it. */
  async subscribe(uri: string, holder: Holder): Promise<void> {
    this.prune();
    let set = this.holders.get(uri);
    const share = this.shares.get(holder) ?? { uris: 0, chars: 0 };
    if (!set?.has(holder) && (share.uris >= MAX_WATCHED_PER_HOLDER || share.chars + uri.length > MAX_WATCHED_CHARS_PER_HOLDER)) {
      throw new GatewayError(
        'MCPEG_ERR_INVALID_PARAMS',
        `this session already has ${share.uris} resource subscriptions on backend "${this.host.name}" (at most ${MAX_WATCHED_PER_HOLDER}, ${MAX_WATCHED_CHARS_PER_HOLDER} characters of URIs); unsubscribe from some first`,
        { limit: MAX_WATCHED_PER_HOLDER },
      );
    }
    if (!set) {
      if (this.holders.size >= MAX_WATCHED || this.chars + uri.length > MAX_WATCHED_CHARS) {
        throw new GatewayError(
          'MCPEG_ERR_INVALID_PARAMS',
          `backend "${this.host.name}" already watches ${this.holders.size} resources (at most ${MAX_WATCHED}, ${MAX_WATCHED_CHARS} characters of URIs); unsubscribe from some first`,
          { limit: MAX_WATCHED },
        );
      }
      this.holders.set(uri, (set = new Set()));
      this.chars += uri.length;
    }
    if (!set.has(holder)) {
      set.add(holder);
      share.uris++;
      share.chars += uri.length;
      this.shares.set(holder, share);
      if (!this.hooked.has(holder)) {
        this.hooked.add(holder);
        // A session that ends stops watching at once: the listen stream does not keep its URIs until someone else subscribes.
        holder.whenClosed?.(() => this.closed(holder));
      }
    }
    await this.update();
    if (!this.current?.honoured.has(uri)) {
      this.drop(uri, holder);
      throw new GatewayError(
        'MCPEG_ERR_METHOD_NOT_FOUND',
        `backend "${this.host.name}" speaks protocol 2026-07-28, which has no resources/subscribe, and did not honour ${uri} in resourceSubscriptions of subscriptions/listen`,
        { method: 'resources/subscribe', uri },
      );
    }
  }

  async unsubscribe(uri: string, holder: Holder): Promise<void> {
    this.drop(uri, holder);
    this.prune();
    await this.update().catch((err: unknown) => this.host.log.debug({ err: (err as Error).message }, 'resource watch update failed'));
  }

  private closed(holder: Holder): void {
    this.hooked.delete(holder);
    const before = this.holders.size;
    this.prune();
    if (this.holders.size !== before) void this.update().catch((err: unknown) => this.host.log.debug({ err: (err as Error).message }, 'resource watch update failed'));
  }

  /** The replica has a new connection (it started again): watch the same URIs on it. */
  follow(): void {
    if (this.holders.size > 0) void this.update().catch((err: unknown) => this.host.log.warn({ err: (err as Error).message }, 'resource watch could not be restored'));
  }

  stop(): void {
    clearTimeout(this.retry);
    this.current?.cancel.cancel('replica stopping', true);
    this.current = undefined;
    this.holders.clear();
    this.shares = new WeakMap();
    this.hooked = new WeakSet();
    this.chars = 0;
  }

  private drop(uri: string, holder: Holder): void {
    const set = this.holders.get(uri);
    if (set?.delete(holder)) this.release(holder, uri);
    if (set?.size === 0) this.forget(uri);
  }

  private release(holder: Holder, uri: string): void {
    const share = this.shares.get(holder);
    if (!share) return;
    share.uris--;
    share.chars -= uri.length;
  }

  private forget(uri: string): void {
    if (this.holders.delete(uri)) this.chars -= uri.length;
  }

  private prune(): void {
    for (const [uri, set] of this.holders) {
      for (const h of set) {
        if (!h.isClosed) continue;
        set.delete(h);
        this.release(h, uri);
      }
      if (set.size === 0) this.forget(uri);
    }
  }

  /** Brings the listen stream in line with the watched URIs (queued: one change at a time). */
  private update(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.queue.then(() => {
      this.queued = undefined;
      return this.relisten();
    });
    this.queued = next;
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async relisten(): Promise<void> {
    const old = this.current;
    const conn = this.host.connection();
    const uris = new Set(this.holders.keys());
    if (old && old.conn === conn && !conn.isClosed && sameSet(old.uris, uris)) return;
    if (uris.size === 0) {
      this.current = undefined;
      old?.cancel.cancel('no resource subscriptions left', true);
      return;
    }
    if (!conn || conn.isClosed) throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.host.name}" is not connected`, { backend: this.host.name });
    const cancel = new Cancellation();
    let acknowledged: (params: Record<string, unknown>) => void = () => {};
    const ack = new Promise<Record<string, unknown>>((resolve) => (acknowledged = resolve));
    const stream: Stream = { conn, cancel, uris, honoured: new Set() };
    const ended = conn.request(
      'subscriptions/listen',
      { notifications: { resourceSubscriptions: [...uris] } },
      {
        timeoutMs: 0,
        cancel,
        onNotification: (n) => {
          if (n.method === 'notifications/subscriptions/acknowledged') acknowledged(n.params ?? {});
        },
      },
    );
    // A stream that ends before its acknowledgement (an error, a refusal) honours nothing.
    const nothing: Record<string, unknown> = {};
    const over = ended.then(
      () => nothing,
      () => nothing,
    );
    void over.then(() => this.ended(stream));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Record<string, unknown>>((resolve) => (timer = setTimeout(() => resolve({}), this.host.timeoutMs)));
    const params = await Promise.race([ack, over, late]);
    clearTimeout(timer);
    const granted = (params.notifications as { resourceSubscriptions?: unknown } | undefined)?.resourceSubscriptions;
    stream.honoured = new Set(Array.isArray(granted) ? granted.filter((u): u is string => typeof u === 'string' && uris.has(u)) : []);
    if (stream.honoured.size === 0) cancel.cancel('nothing honoured', true);
    this.current = stream.honoured.size > 0 ? stream : undefined;
    if (old && old !== stream) old.cancel.cancel('replaced by a listen stream with other resources', true);
  }

  /** The backend ended a stream still in use: open one again after a pause. */
  private ended(stream: Stream): void {
    if (this.current !== stream) return;
    this.current = undefined;
    if (this.holders.size === 0 || stream.cancel.cancelled) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.follow(), RELISTEN_MS);
    this.retry.unref();
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
