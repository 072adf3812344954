/**
 * A test server reproducing Consul's documented answers for the one endpoint discovery
 * uses: GET /v1/health/service/<name> (entries of Node, Service, Checks; `passing` filters
 * on the checks; `tag`), blocking queries (an `index` at or past the current one waits
 * until the set changes or `wait` passes; `X-Consul-Index` on every answer) and ACL tokens
 * (`X-Consul-Token`; 403 "ACL not found" without the right one). No Consul binary can be
 * installed here: this is what the Consul source is tested against (docs/discovery.md).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Instance {
  id: string;
  address: string;
  port: number;
  weight?: number;
  meta?: Record<string, string>;
  tags?: string[];
  passing?: boolean;
}

export class FakeConsul {
  index = 10;
  instances: Instance[] = [];
  token: string | undefined;
  /** Every request: the query parameters and token it carried. */
  requests: Array<{ index: string | null; wait: string | null; passing: string | null; token: string | undefined; at: number }> = [];
  private server: Server | undefined;
  private waiters = new Set<() => void>();
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const token = req.headers['x-consul-token'] as string | undefined;
      this.requests.push({ index: u.searchParams.get('index'), wait: u.searchParams.get('wait'), passing: u.searchParams.get('passing'), token, at: Date.now() });
      const m = /^\/v1\/health\/service\/([^/]+)$/.exec(u.pathname);
      if (!m) {
        res.writeHead(404).end('not found');
        return;
      }
      if (this.token !== undefined && token !== this.token) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('ACL not found');
        return;
      }
      const want = Number(u.searchParams.get('index') ?? 0);
      const waitMs = parseWait(u.searchParams.get('wait'));
      const answer = () => {
        const passingOnly = u.searchParams.has('passing') && u.searchParams.get('passing') !== 'false';
        const tag = u.searchParams.get('tag');
        const list = this.instances.filter((i) => (!passingOnly || i.passing !== false) && (!tag || (i.tags ?? []).includes(tag))).map((i) => entry(decodeURIComponent(m[1]), i));
        res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': String(this.index), 'x-consul-knownleader': 'true' }).end(JSON.stringify(list));
      };
      if (want > 0 && want >= this.index) {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          if (!res.writableEnded) answer();
        };
        const timer = setTimeout(wake, waitMs);
        this.waiters.add(wake);
        req.on('close', () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
        });
        return;
      }
      answer();
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A change in the catalog: the index moves on and blocked queries answer. */
  set(instances: Instance[], index = this.index + 1): void {
    this.instances = instances;
    this.index = index;
    for (const w of [...this.waiters]) w();
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const w of [...this.waiters]) w();
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

function parseWait(w: string | null): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(w ?? '');
  if (!m) return 5 * 60_000;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
}

/** One entry as Consul documents it (Health - List Service Instances). */
function entry(service: string, i: Instance) {
  const status = i.passing === false ? 'critical' : 'passing';
  return {
    Node: { ID: `node-${i.id}`, Node: `node-${i.id}`, Address: i.address, Datacenter: 'dc1', TaggedAddresses: { lan: i.address, wan: i.address }, Meta: {} },
    Service: {
      ID: i.id,
      Service: service,
      Tags: i.tags ?? [],
      Address: i.address,
      Meta: i.meta ?? {},
      Port: i.port,
      Weights: { Passing: i.weight ?? 1, Warning: 1 },
      EnableTagOverride: false,
    },
    Checks: [
      { Node: `node-${i.id}`, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', ServiceID: '', ServiceName: '' },
      { Node: `node-${i.id}`, CheckID: `service:${i.id}`, Name: `Service '${service}' check`, Status: status, ServiceID: i.id, ServiceName: service },
    ],
  };
}
