/**
 * Which sessions of this instance subscribed to each resource URI. A backend's
 * `notifications/resources/updated` reaches the sessions subscribed to its URI, and a
 * client's unsubscribe from a shared backend asks whether another session still holds the
 * URI: both looked at every open session (up to `server.max_sessions`), so a backend
 * sending updates, or a client sending unsubscribes, cost the gateway that much work each.
 * Now they look at the URI's subscribers only.
 *
 * A session's own set (`SubscribedUris`) keeps the index in step: every add, delete and
 * clear of it updates the index, so no caller can forget to.
 */
export class Subscribers<S> {
  private readonly byUri = new Map<string, Set<S>>();

  /** The sessions subscribed to `uri` now (a copy: a caller may unsubscribe them while it goes through). */
  of(uri: string): S[] {
    const set = this.byUri.get(uri);
    return set ? [...set] : [];
  }

  /** How many URIs have subscribers (for tests and diagnostics). */
  get size(): number {
    return this.byUri.size;
  }

  add(uri: string, s: S): void {
    const set = this.byUri.get(uri);
    if (set) set.add(s);
    else this.byUri.set(uri, new Set([s]));
  }

  delete(uri: string, s: S): void {
    const set = this.byUri.get(uri);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.byUri.delete(uri);
  }
}

/** A session's subscribed URIs: a Set whose changes also go to the instance's index. */
export class SubscribedUris<S> extends Set<string> {
  private readonly owner: S;
  private readonly index: Subscribers<S> | undefined;

  constructor(owner: S, index: Subscribers<S> | undefined) {
    super();
    this.owner = owner;
    this.index = index;
  }

  override add(uri: string): this {
    super.add(uri);
    // The constructor's super() adds nothing, so the index is always set here.
    this.index?.add(uri, this.owner);
    return this;
  }

  override delete(uri: string): boolean {
    const had = super.delete(uri);
    if (had) this.index?.delete(uri, this.owner);
    return had;
  }

  override clear(): void {
    if (this.index) for (const uri of this) this.index.delete(uri, this.owner);
    super.clear();
  }
}
