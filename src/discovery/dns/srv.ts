/**
 * DNS SRV (RFC 2782): a backend's replicas from an SRV name. Every record is a replica
 * with its weight (0 counts as 1: a replica needs a share) and its priority, which the
 * backend honours as failover: new work goes to the lowest priority with a replica
 * available, a higher one only while every lower one is down (backend.ts). Each target and
 * port make a URL with the configured scheme and path, naming the target, or (address:
 * resolve) the target's A/AAAA records from the same servers. Asked again when the
 * records' smallest TTL ends, clamped to [min_ttl, max_ttl]; a failure is retried after
 * min_ttl, and the last good set stays meanwhile (manager.ts).
 */
import { getServers } from 'node:dns';
import type * as packet from 'dns-packet';
import { isHostName } from '../checks.js';
import type { Endpoint, Provider, Sink } from '../types.js';
import { parseServer, query, type DnsAnswer, type DnsServer } from './query.js';

export interface SrvOptions {
  name: string;
  servers?: readonly string[] | undefined;
  scheme: 'http' | 'https';
  path: string;
  address: 'target' | 'resolve';
  min_ttl: number;
  max_ttl: number;
  timeout: number;
  maxBytes: number;
  /** max_endpoints: with `address: resolve`, names asked of the servers at most per answer (each asked once). */
  maxEndpoints?: number;
}

interface Srv {
  priority: number;
  weight: number;
  port: number;
  target: string;
  ttl: number;
}

/** node:dns's getServers() forms ("10.0.0.2", "10.0.0.2:5353", "fd00::2", "[fd00::2]:5353") as host:port. */
export function withPort(s: string): string {
  if (s.startsWith('[') || /^[\d.]+:\d+$/.test(s)) return s;
  return s.includes(':') ? `[${s}]:53` : `${s}:53`;
}

/** Records of one answer at most (a bound on what one answer makes the gateway hold before max_endpoints). */
const MAX_RECORDS = 4096;

export class DnsSrvProvider implements Provider<Endpoint> {
  readonly kind = 'dns_srv';
  readonly source: string;
  private readonly servers: DnsServer[];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Records of the last answer left out, and why. */
  private skipped: string[] = [];

  constructor(private readonly o: SrvOptions) {
    this.servers = (o.servers?.length ? o.servers : getServers().map(withPort)).map(parseServer);
    this.source = `SRV ${o.name} @ ${this.servers.map((s) => `${s.host}:${s.port}`).join(', ') || 'no servers'}`;
  }

  start(sink: Sink<Endpoint>): void {
    const run = async () => {
      if (this.stopped) return;
      let next = this.o.min_ttl;
      try {
        const { endpoints, ttl } = await this.resolve();
        next = Math.min(this.o.max_ttl, Math.max(this.o.min_ttl, ttl * 1000));
        if (!this.stopped) sink.update(endpoints);
      } catch (err) {
        if (!this.stopped) sink.fail(err as Error);
      }
      if (this.stopped) return;
      this.timer = setTimeout(() => void run(), next);
      this.timer.unref();
    };
    void run();
  }

  notes(): readonly string[] {
    return this.skipped;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Each server in turn until one answers (an NXDOMAIN answer is an answer). */
  private async ask(name: string, type: packet.RecordType): Promise<DnsAnswer> {
    if (this.servers.length === 0) throw new Error('no DNS servers (none configured, none in the system configuration)');
    const errors: string[] = [];
    for (const s of this.servers) {
      try {
        const a = await query(s, name, type, this.o.timeout, this.o.maxBytes);
        if (a.rcode === 'SERVFAIL' || a.rcode === 'REFUSED') {
          errors.push(`${s.host}:${s.port} answered ${a.rcode}`);
          continue;
        }
        return a;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    throw new Error(`${type} ${name}: ${errors.join('; ')}`);
  }

  async resolve(): Promise<{ endpoints: Endpoint[]; ttl: number }> {
    const a = await this.ask(this.o.name, 'SRV');
    if (a.rcode !== 'NOERROR') throw new Error(`SRV ${this.o.name}: ${a.rcode}`);
    const records: Srv[] = [];
    for (const r of a.answers) {
      if (r.type !== 'SRV' || records.length >= MAX_RECORDS) continue;
      const d = r.data as packet.SrvData;
      records.push({ priority: d.priority ?? 0, weight: d.weight ?? 0, port: d.port, target: d.target.replace(/\.$/, ''), ttl: r.ttl ?? 0 });
    }
    // RFC 2782: a single record with target "." means the service is decidedly not available here.
    // A label may hold any byte: a target that is not a host name (":", "/", "?", "@" ...) would choose the URL's port, path or query.
    const skipped: string[] = [];
    const usable = records.filter((r) => {
      if (r.target === '' || r.port <= 0) return false;
      if (isHostName(r.target)) return true;
      if (skipped.length < 20) skipped.push(`${JSON.stringify(r.target.slice(0, 64))}: not a host name`);
      return false;
    });
    this.skipped = skipped;
    if (usable.length === 0) throw new Error(`SRV ${this.o.name}: no records`);
    // Lowest priority first: max_endpoints keeps those, and a URL named at two priorities keeps the lower.
    const chosen = usable.sort((x, y) => x.priority - y.priority || (x.target < y.target ? -1 : x.target > y.target ? 1 : x.port - y.port));
    let ttl = Math.min(...chosen.map((r) => r.ttl));
    const endpoints: Endpoint[] = [];
    // A hostile answer holds thousands of records: each name is asked once, and no more names than max_endpoints
    // (each one that has an address gives a replica; those are all max_endpoints keeps), not two questions a record.
    const asked = new Map<string, { list: string[]; ttl: number } | undefined>();
    const maxNames = this.o.maxEndpoints ?? MAX_RECORDS;
    for (const r of chosen) {
      const hosts = this.o.address === 'resolve' ? await this.addresses(r.target, a.additionals, asked, maxNames) : { list: [r.target], ttl: Infinity };
      if (hosts === undefined) {
        if (skipped.length < 20) skipped.push(`${r.target}: not asked (more than max_endpoints, ${maxNames}, names to resolve)`);
        continue;
      }
      if (hosts.list.length === 0) {
        if (skipped.length < 20) skipped.push(`${r.target}: no A or AAAA record`);
        continue;
      }
      ttl = Math.min(ttl, hosts.ttl);
      for (const h of hosts.list)
        endpoints.push({ url: `${this.o.scheme}://${h.includes(':') ? `[${h}]` : h}:${r.port}${this.o.path}`, weight: Math.max(1, r.weight), priority: r.priority });
    }
    return { endpoints, ttl: Number.isFinite(ttl) ? ttl : this.o.min_ttl / 1000 };
  }

  /**
   * A target's addresses: from the answer's additional section when there, else asked (A,
   * then AAAA) unless `asked` holds the name already or `maxNames` names were asked
   * (undefined); none: the target is left out.
   */
  private async addresses(
    target: string,
    additionals: readonly packet.Answer[],
    asked: Map<string, { list: string[]; ttl: number } | undefined>,
    maxNames: number,
  ): Promise<{ list: string[]; ttl: number } | undefined> {
    const name = target.toLowerCase();
    const pick = (rs: readonly packet.Answer[]) => rs.filter((r) => (r.type === 'A' || r.type === 'AAAA') && r.name.replace(/\.$/, '').toLowerCase() === name);
    let found = pick(additionals);
    if (found.length === 0) {
      if (asked.has(name)) return asked.get(name);
      if (asked.size >= maxNames) return undefined;
      asked.set(name, { list: [], ttl: Infinity });
      const v4 = await this.ask(target, 'A');
      found = pick(v4.answers);
      if (found.length === 0) found = pick((await this.ask(target, 'AAAA')).answers);
    }
    const rs = found as Array<{ data: unknown; ttl?: number }>;
    const hosts = found.length === 0 ? { list: [], ttl: Infinity } : { list: rs.slice(0, 16).map((r) => String(r.data)), ttl: Math.min(...rs.map((r) => r.ttl ?? 0)) };
    if (asked.has(name)) asked.set(name, hosts);
    return hosts;
  }
}
