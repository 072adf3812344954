/**
 * Places for long-lived streams that are not sessions but hold as much: legacy SSE streams
 * (a place for a session from the GET, before it initializes) and `subscriptions/listen`
 * streams (stateless clients). Neither is ever idle, so neither yields: they are bounded as
 * sessions are, by server.max_sessions in all and server.max_sessions_per_client per client
 * (an IPv4 address, an IPv6 /64: client-key.ts). Counted only in all, one address could take
 * every place and every other client got 503 for as long as it kept its connections.
 */
import { clientKey } from '../util/client-key.js';

export type Place = { release: () => void } | { refusal: string };

export class StreamPlaces {
  private open = 0;
  private readonly perClient = new Map<string, number>();

  /** `what` names the streams in a refusal ("legacy SSE streams"); the limits are read on each take (a reload may change them). */
  constructor(
    private readonly what: string,
    private readonly limits: () => { max: number; perClient: number },
  ) {}

  get size(): number {
    return this.open;
  }

  /** A place for one more stream from `clientIp`: its release (idempotent; call when the stream closes), or why there is none. */
  take(clientIp: string | undefined): Place {
    const { max, perClient } = this.limits();
    if (this.open >= max) return { refusal: `too many ${this.what} open (${this.open}, server.max_sessions); close some first` };
    const client = perClient > 0 && clientIp !== undefined ? clientKey(clientIp) : undefined;
    const mine = client === undefined ? 0 : (this.perClient.get(client) ?? 0);
    if (client !== undefined && mine >= perClient) {
      return { refusal: `this client (${client}) already holds ${perClient} ${this.what} (server.max_sessions_per_client); close some first` };
    }
    this.open++;
    if (client !== undefined) this.perClient.set(client, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        if (client === undefined) return;
        const n = (this.perClient.get(client) ?? 1) - 1;
        if (n > 0) this.perClient.set(client, n);
        else this.perClient.delete(client);
      },
    };
  }
}
