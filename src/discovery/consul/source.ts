/**
 * Consul: a backend's replicas are the passing instances of a service, from
 * `GET /v1/health/service/<service>?passing=true` (Consul's HTTP API, "Health - List
 * Service Instances"), followed with blocking queries: `index` = the last
 * `X-Consul-Index`, `wait` = the configured wait; the answer comes when the set changes
 * or the wait ends. As Consul's blocking-query documentation asks: an index that goes
 * backwards resets it to 0 (a plain query next), an index below 1 is taken as 1, and
 * queries are spaced (at least `retry` apart after one that returned at once unchanged,
 * and at least a second apart whatever the index: it moving says nothing changed).
 *
 * An instance's address is its service address, else its node's; its port the service
 * port; its weight the service's Weights.Passing. Service metadata (or a tag of the form
 * key=value) may name `mcp_path`, `mcp_scheme` (http, https) and `mcp_transport`
 * (streamable_http, sse); otherwise the configured path and scheme apply. The ACL token
 * goes in `X-Consul-Token`, read from the declared secret named by token_env.
 */
import { isIP } from 'node:net';
import { isHostName } from '../checks.js';
import { fetchJson } from '../fetch-json.js';
import type { Endpoint, Provider, Sink } from '../types.js';

export interface ConsulOptions {
  address: string;
  service: string;
  tag?: string | undefined;
  datacenter?: string | undefined;
  token?: string | undefined;
  scheme: 'http' | 'https';
  path: string;
  /** ms */
  wait: number;
  retry: number;
  maxBytes: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,1023}$/;
/** Entries of one answer read at most (max_endpoints cuts further). */
const MAX_ENTRIES = 4096;
/** Queries start at most this often: an agent answering at once with a new index each time made a busy loop. */
const MIN_QUERY_INTERVAL_MS = 1000;

export class ConsulSource implements Provider<Endpoint> {
  readonly kind = 'consul';
  readonly source: string;
  /** The blocking index: 0 asks without blocking. */
  index = 0;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private skipped: string[] = [];
  private failures = 0;

  constructor(private readonly o: ConsulOptions) {
    this.source = `Consul ${o.address} service ${o.service}${o.tag ? ` tag ${o.tag}` : ''}`;
  }

  notes(): readonly string[] {
    return this.skipped;
  }

  start(sink: Sink<Endpoint>): void {
    const loop = async () => {
      while (!this.abort.signal.aborted) {
        const t0 = Date.now();
        const before = this.index;
        let pause = 0;
        try {
          const endpoints = await this.query();
          this.failures = 0;
          if (this.abort.signal.aborted) return;
          sink.update(endpoints);
          // Unchanged and at once: Consul did not block (or is not Consul); do not spin. A moved index is no change
          // either (the blocking-query docs: "no guarantee of a change"), and an agent can move it on every answer:
          // queries start at most once a second whatever the index says.
          const spent = Date.now() - t0;
          if (spent < MIN_QUERY_INTERVAL_MS) pause = Math.max(this.index === before ? this.o.retry : 0, MIN_QUERY_INTERVAL_MS - spent);
        } catch (err) {
          if (this.abort.signal.aborted) return;
          sink.fail(err as Error);
          this.index = 0;
          pause = this.o.retry * 2 ** Math.min(this.failures++, 3);
        }
        if (pause > 0) await new Promise<void>((r) => (this.timer = setTimeout(r, pause)));
      }
    };
    void loop();
  }

  stop(): void {
    this.abort.abort();
    clearTimeout(this.timer);
  }

  /** One query (blocking once an index is known); updates `index`. */
  async query(): Promise<Endpoint[]> {
    const q = new URLSearchParams({ passing: 'true' });
    if (this.o.tag) q.set('tag', this.o.tag);
    if (this.o.datacenter) q.set('dc', this.o.datacenter);
    if (this.index > 0) {
      q.set('index', String(this.index));
      q.set('wait', `${Math.max(1, Math.round(this.o.wait / 1000))}s`);
    }
    const base = this.o.address.replace(/\/+$/, '');
    const url = `${base}/v1/health/service/${encodeURIComponent(this.o.service)}?${q}`;
    // Consul adds up to wait/16 of jitter to a blocking query's wait.
    const timeoutMs = this.index > 0 ? this.o.wait + this.o.wait / 16 + 5000 : 10_000;
    const r = await fetchJson(url, { timeoutMs, maxBytes: this.o.maxBytes, signal: this.abort.signal, headers: this.o.token ? { 'x-consul-token': this.o.token } : {} });
    if (r.status !== 200)
      throw new Error(`GET ${base}/v1/health/service/${this.o.service} answered ${r.status}${typeof r.body === 'string' && r.body ? `: ${r.body.slice(0, 100)}` : ''}`);
    if (!Array.isArray(r.body)) throw new Error('Consul answered something other than a list of service instances');
    const raw = Number(r.headers.get('x-consul-index'));
    let next = Number.isSafeInteger(raw) ? raw : 0;
    if (next < 1) next = 1;
    // Gone backwards (a Consul restore, another server): start again without blocking.
    this.index = next < this.index ? 0 : next;
    return this.endpoints(r.body);
  }

  private endpoints(entries: unknown[]): Endpoint[] {
    const out: Endpoint[] = [];
    const skipped: string[] = [];
    for (const e of entries.slice(0, MAX_ENTRIES)) {
      if (!isObject(e) || !isObject(e.Service)) {
        skipped.push('an entry without Service');
        continue;
      }
      // passing=true asked Consul for these only; an entry with a check that is not passing is left out all the same.
      if (Array.isArray(e.Checks) && e.Checks.some((c) => isObject(c) && c.Status !== 'passing')) continue;
      const svc = e.Service;
      const node = isObject(e.Node) ? e.Node : {};
      const id = typeof svc.ID === 'string' ? svc.ID.slice(0, 128) : '?';
      const host = typeof svc.Address === 'string' && svc.Address ? svc.Address : typeof node.Address === 'string' ? node.Address : '';
      const port = svc.Port;
      if (!host || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        skipped.push(`${id}: no address or port`);
        continue;
      }
      // An IP address or a host name, as DNS SRV and Kubernetes require: anything else ("/", "?", "@") would choose the URL's port, path or user.
      if (isIP(host) === 0 && !isHostName(host)) {
        skipped.push(`${id}: address ${JSON.stringify(host.slice(0, 64))} is not an IP address or host name`);
        continue;
      }
      const opts = this.options(svc);
      if ('problem' in opts) {
        skipped.push(`${id}: ${opts.problem}`);
        continue;
      }
      const weights = isObject(svc.Weights) ? svc.Weights : {};
      const weight = typeof weights.Passing === 'number' ? weights.Passing : 1;
      const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      out.push({ url: `${opts.scheme}://${h}:${port}${opts.path}`, weight, ...(opts.transport ? { transport: opts.transport } : {}) });
    }
    this.skipped = skipped;
    return out;
  }

  /** mcp_path, mcp_scheme, mcp_transport from the service's Meta, else its tags (key=value), else the config. */
  private options(svc: Json): { path: string; scheme: 'http' | 'https'; transport?: 'streamable_http' | 'sse' } | { problem: string } {
    const meta = isObject(svc.Meta) ? svc.Meta : {};
    const tags = Array.isArray(svc.Tags) ? svc.Tags.filter((t): t is string => typeof t === 'string') : [];
    const read = (k: string): string | undefined => {
      if (Object.hasOwn(meta, k) && typeof meta[k] === 'string') return meta[k] as string;
      const tag = tags.find((t) => t.startsWith(`${k}=`));
      return tag?.slice(k.length + 1);
    };
    const path = read('mcp_path') ?? this.o.path;
    if (!PATH.test(path)) return { problem: `mcp_path ${JSON.stringify(path.slice(0, 64))} is not a URL path` };
    const scheme = read('mcp_scheme') ?? this.o.scheme;
    if (scheme !== 'http' && scheme !== 'https') return { problem: `mcp_scheme ${JSON.stringify(scheme.slice(0, 16))} is not http or https` };
    const transport = read('mcp_transport');
    if (transport !== undefined && transport !== 'streamable_http' && transport !== 'sse')
      return { problem: `mcp_transport ${JSON.stringify(transport.slice(0, 32))} is not streamable_http or sse` };
    return { path, scheme, ...(transport ? { transport } : {}) };
  }
}
