/**
 * Kubernetes: a backend's replicas are the ready endpoints of a Service's EndpointSlices
 * (label kubernetes.io/service-name), listed and then watched with the official client
 * library (@kubernetes/client-node: KubeConfig, DiscoveryV1Api, Watch), as the API
 * concepts describe it ("Efficient detection of changes"): list, then watch from the
 * list's resourceVersion with allowWatchBookmarks; every event (bookmarks included)
 * moves the resourceVersion; a watch that ends is started again from it; 410 Gone (an
 * ERROR event with code 410, or the status) means it is too old: list again. Credentials:
 * a kubeconfig file when configured, else in-cluster (the service account's token and CA)
 * when KUBERNETES_SERVICE_HOST is set, else the default kubeconfig.
 *
 * An endpoint counts when its `conditions.ready` is not false (the API: "nil should be
 * interpreted as true"); its first address is used (the API: addresses are fungible); the
 * port is the slice's port named `port`, or its only one.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isHostName } from '../checks.js';
import type { Endpoint, Provider, Sink } from '../types.js';

export interface KubernetesOptions {
  service: string;
  namespace?: string | undefined;
  port?: string | undefined;
  kubeconfig?: string | undefined;
  scheme: 'http' | 'https';
  path: string;
  retry: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Slices held at once, and endpoints read per slice (the API allows 1,000 per slice). */
const MAX_SLICES = 1000;
const MAX_PER_SLICE = 1000;
/** Endpoints built from the slices at most, at each event (max_endpoints cuts further). */
const MAX_ENDPOINTS = 4096;
/** Cycles (a list and/or a watch) start at most this often. */
const MIN_CYCLE_MS = 1000;
const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

interface Client {
  list(): Promise<{ items: unknown[]; resourceVersion: string }>;
  watch(resourceVersion: string, onEvent: (type: string, obj: unknown) => void, done: (err: unknown) => void): Promise<{ abort(): void }>;
  where: string;
}

export class KubernetesSource implements Provider<Endpoint> {
  readonly kind = 'kubernetes';
  readonly source: string;
  private client: Client | undefined;
  private readonly slices = new Map<string, Json>();
  private resourceVersion = '';
  private request: { abort(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private skipped: string[] = [];
  /** When the last list or watch cycle started (MIN_CYCLE_MS apart). */
  private lastCycle = 0;
  /** How many lists and watches were started (for tests and the admin API). */
  readonly counts = { lists: 0, watches: 0 };

  constructor(private readonly o: KubernetesOptions) {
    this.source = `Kubernetes Service ${o.namespace ? `${o.namespace}/` : ''}${o.service} (EndpointSlices)`;
  }

  notes(): readonly string[] {
    return this.skipped;
  }

  start(sink: Sink<Endpoint>): void {
    void this.cycle(sink, true);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.request?.abort();
  }

  /** List (when `relist`) then watch; on failure retry after `retry`, doubling up to 8x. */
  private async cycle(sink: Sink<Endpoint>, relist: boolean): Promise<void> {
    if (this.stopped) return;
    // At most one list or watch started a second: an API server ending each watch at once (or answering 410 to each)
    // made a busy loop. A real watch lasts until its timeoutSeconds; a real 410 is followed within a second.
    const wait = this.lastCycle + MIN_CYCLE_MS - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => void this.cycle(sink, relist), wait);
      this.timer.unref();
      return;
    }
    this.lastCycle = Date.now();
    try {
      this.client ??= await this.connect();
      if (relist || !this.resourceVersion) {
        this.counts.lists++;
        const { items, resourceVersion } = await this.client.list();
        this.slices.clear();
        for (const s of items.slice(0, MAX_SLICES)) if (isObject(s) && isObject(s.metadata) && typeof s.metadata.name === 'string') this.slices.set(s.metadata.name, s);
        this.resourceVersion = resourceVersion;
        if (this.stopped) return;
        sink.update(this.endpoints());
      }
      this.counts.watches++;
      let gone = false;
      this.request = await this.client.watch(
        this.resourceVersion,
        (type, obj) => {
          if (this.stopped) return;
          if (type === 'ERROR') {
            if (isObject(obj) && obj.code === 410) gone = true;
            return;
          }
          if (!isObject(obj) || !isObject(obj.metadata)) return;
          const rv = obj.metadata.resourceVersion;
          if (typeof rv === 'string' && rv) this.resourceVersion = rv;
          if (type === 'BOOKMARK') return;
          const name = obj.metadata.name;
          if (typeof name !== 'string') return;
          if (type === 'DELETED') this.slices.delete(name);
          else if (type === 'ADDED' || type === 'MODIFIED') {
            if (!this.slices.has(name) && this.slices.size >= MAX_SLICES) return;
            this.slices.set(name, obj);
          } else return;
          sink.update(this.endpoints());
        },
        (err) => {
          this.request = undefined;
          if (this.stopped) return;
          const code = isObject(err) ? (err.statusCode ?? err.code) : undefined;
          if (gone || code === 410) {
            // Too old: list again at once.
            this.resourceVersion = '';
            void this.cycle(sink, true);
          } else if (err) this.failed(sink, err, false);
          else {
            // The server ended the watch (its timeout): watch again from where it was.
            this.failures = 0;
            void this.cycle(sink, false);
          }
        },
      );
      this.failures = 0;
    } catch (err) {
      const code = isObject(err) ? (err.statusCode ?? err.code) : undefined;
      this.failed(sink, err, code === 410 || relist);
    }
  }

  /** One list, without watching (`mcpeg validate`). */
  async listOnce(): Promise<Endpoint[]> {
    this.client ??= await this.connect();
    const { items } = await this.client.list();
    this.slices.clear();
    for (const s of items.slice(0, MAX_SLICES)) if (isObject(s) && isObject(s.metadata) && typeof s.metadata.name === 'string') this.slices.set(s.metadata.name, s);
    return this.endpoints();
  }

  private failed(sink: Sink<Endpoint>, err: unknown, relist: boolean): void {
    if (this.stopped) return;
    sink.fail(new Error(`${this.client?.where ?? 'Kubernetes'}: ${describe(err)}`));
    const delay = this.o.retry * 2 ** Math.min(this.failures++, 3);
    this.timer = setTimeout(() => void this.cycle(sink, relist), delay);
    this.timer.unref();
  }

  private endpoints(): Endpoint[] {
    const out: Endpoint[] = [];
    const skipped: string[] = [];
    for (const [name, s] of [...this.slices].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const ports = Array.isArray(s.ports) ? s.ports.filter(isObject) : [];
      const port = this.o.port ? ports.find((p) => p.name === this.o.port) : ports.length === 1 ? ports[0] : undefined;
      if (!port || typeof port.port !== 'number') {
        skipped.push(`${name}: ${this.o.port ? `no port named ${this.o.port}` : 'not exactly one port (name one: port)'}`);
        continue;
      }
      const eps = Array.isArray(s.endpoints) ? s.endpoints.filter(isObject).slice(0, MAX_PER_SLICE) : [];
      for (const e of eps) {
        if (isObject(e.conditions) && e.conditions.ready === false) continue;
        const addr = Array.isArray(e.addresses) && typeof e.addresses[0] === 'string' ? e.addresses[0] : undefined;
        if (!addr) continue;
        // An IP address (addressType IPv4/IPv6) or a host name (FQDN): anything else (a "/" or "?") would choose the URL's port or path.
        if (isIP(addr) === 0 && !isHostName(addr)) {
          if (skipped.length < 20) skipped.push(`${name}: address ${JSON.stringify(addr.slice(0, 64))} is not an IP address or host name`);
          continue;
        }
        if (out.length >= MAX_ENDPOINTS) {
          if (skipped.length < 20) skipped.push(`${name}: more than ${MAX_ENDPOINTS} endpoints in all; the rest left out`);
          break;
        }
        const host = addr.includes(':') ? `[${addr}]` : addr;
        out.push({ url: `${this.o.scheme}://${host}:${port.port}${this.o.path}`, weight: 1 });
      }
    }
    this.skipped = skipped;
    return out;
  }

  /** The client library, loaded when a Kubernetes source is used (it is large). */
  private async connect(): Promise<Client> {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    let namespace = this.o.namespace;
    if (this.o.kubeconfig) kc.loadFromFile(this.o.kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) {
      kc.loadFromCluster();
      namespace ??= readNamespace();
    } else kc.loadFromDefault();
    namespace ??= kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig names no current cluster');
    const api = kc.makeApiClient(k8s.DiscoveryV1Api);
    const watcher = new k8s.Watch(kc);
    const labelSelector = `kubernetes.io/service-name=${this.o.service}`;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`;
    return {
      where: `${cluster.server}${path}`,
      async list() {
        const r = await api.listNamespacedEndpointSlice({ namespace: namespace!, labelSelector });
        // The library's objects: plain enough for the reader above (it reads own fields only).
        return { items: (r.items ?? []) as unknown[], resourceVersion: r.metadata?.resourceVersion ?? '' };
      },
      watch: (resourceVersion, onEvent, done) =>
        watcher.watch(path, { resourceVersion, labelSelector, allowWatchBookmarks: true, timeoutSeconds: 300 }, (type: string, obj: unknown) => onEvent(type, obj), done),
    };
  }
}

function readNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  if (!isObject(err)) return String(err);
  const code = err.statusCode ?? err.code;
  const msg = typeof err.message === 'string' ? err.message.split('\n')[0].slice(0, 300) : String(err);
  return code !== undefined && !msg.includes(String(code)) ? `${code} ${msg}` : msg;
}
