/**
 * A test server reproducing the part of the Kubernetes API the discovery source uses:
 * EndpointSlices of one namespace, listed (an EndpointSliceList with its resourceVersion)
 * and watched (`watch=true`: newline-delimited watch events after the given
 * resourceVersion, BOOKMARK events when allowWatchBookmarks is set, an ERROR event with a
 * 410 Status for a resourceVersion older than the compaction point, then the end), with a
 * bearer token. No Kubernetes API server can be run here (docs/discovery.md).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Slice = Record<string, unknown> & { metadata: { name: string; namespace: string; resourceVersion?: string; labels: Record<string, string> } };

export class FakeKubeApi {
  rv = 100;
  /** Watch events kept for replay (a watch from an older resourceVersion below `compactedBelow` gets 410). */
  private history: Array<{ rv: number; type: string; object: Slice }> = [];
  compactedBelow = 0;
  readonly slices = new Map<string, Slice>();
  requests: Array<{ watch: boolean; resourceVersion: string | null; bookmarks: string | null; labelSelector: string | null; auth: string | undefined }> = [];
  /** Open watches, each with its label selector (the API sends a watch only the objects it selects). */
  private watchers = new Set<{ res: ServerResponse; bookmarks: boolean; selected: (s: Slice) => boolean }>();
  private server: Server | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  port = 0;

  constructor(
    readonly namespace: string,
    readonly token: string,
  ) {}

  async start(port = 0, bookmarkMs = 300): Promise<void> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const watch = u.searchParams.get('watch') === 'true';
      this.requests.push({
        watch,
        resourceVersion: u.searchParams.get('resourceVersion'),
        bookmarks: u.searchParams.get('allowWatchBookmarks'),
        labelSelector: u.searchParams.get('labelSelector'),
        auth: req.headers.authorization,
      });
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(status(401, 'Unauthorized', 'Unauthorized')));
        return;
      }
      if (u.pathname !== `/apis/discovery.k8s.io/v1/namespaces/${this.namespace}/endpointslices`) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(status(404, 'NotFound', 'the server could not find the requested resource')));
        return;
      }
      const selector = u.searchParams.get('labelSelector') ?? '';
      const [k, v] = selector.split('=');
      const selected = (s: Slice) => !selector || s.metadata.labels[k] === v;
      if (!watch) {
        const items = [...this.slices.values()].filter(selected);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(this.rv) }, items }));
        return;
      }
      const from = Number(u.searchParams.get('resourceVersion') ?? 0);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      if (from < this.compactedBelow) {
        // What the API server does for a resourceVersion it no longer has.
        res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`) })}\n`);
        return;
      }
      for (const e of this.history) if (e.rv > from && selected(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      const w = { res, bookmarks: u.searchParams.get('allowWatchBookmarks') === 'true', selected };
      this.watchers.add(w);
      req.on('close', () => this.watchers.delete(w));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    this.bookmarkTimer = setInterval(() => this.bookmark(), bookmarkMs);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig file naming this server, the token and the namespace. */
  kubeconfig(): string {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-kube-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // Plain HTTP on loopback: the client library accepts an http:// server only with insecure-skip-tls-verify.
        clusters: [{ name: 'test', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'gw', user: { token: this.token } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'gw', namespace: this.namespace } }],
        'current-context': 'test',
      }),
    );
    return file;
  }

  /** Adds or replaces a slice (ADDED or MODIFIED to watchers). */
  put(slice: Slice): void {
    const type = this.slices.has(slice.metadata.name) ? 'MODIFIED' : 'ADDED';
    this.emit(type, slice);
  }

  delete(name: string): void {
    const s = this.slices.get(name);
    if (s) this.emit('DELETED', s);
  }

  /** Forgets history up to now and ends every watch: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedBelow = this.rv + 1;
    this.history = [];
    this.endWatches();
  }

  /** Ends every watch (as the server's watch timeout does). */
  endWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    this.endWatches();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private emit(type: string, slice: Slice): void {
    this.rv++;
    const object = { ...slice, metadata: { ...slice.metadata, resourceVersion: String(this.rv) } } as Slice;
    if (type === 'DELETED') this.slices.delete(slice.metadata.name);
    else this.slices.set(slice.metadata.name, object);
    this.history.push({ rv: this.rv, type, object });
    for (const w of this.watchers) if (w.selected(object)) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private bookmark(): void {
    // A bookmark moves the client's resourceVersion on without a change (the rv advances as other objects change).
    this.rv++;
    for (const w of this.watchers)
      if (w.bookmarks)
        w.res.write(
          `${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(this.rv) } } })}\n`,
        );
  }
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** An EndpointSlice of `service` with one port and these endpoints (address, ready). */
export function endpointSlice(namespace: string, name: string, service: string, port: number, endpoints: Array<{ ip: string; ready?: boolean }>, portName = 'mcp'): Slice {
  return {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: portName, port, protocol: 'TCP' }],
    endpoints: endpoints.map((e, i) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
      targetRef: { kind: 'Pod', name: `${name}-pod-${i}`, namespace },
    })),
  };
}
