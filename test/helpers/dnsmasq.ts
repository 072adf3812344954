/**
 * A real DNS server for the discovery tests: Debian's dnsmasq, started unprivileged on
 * 127.0.0.1 and a free UDP/TCP port, answering only from its own records (no upstream,
 * no /etc/hosts; names under .test only). dnsmasq reads srv-host/host-record at start only, so changing the
 * records restarts it on the same port (a real outage in between, as a test may want).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface SrvRecord {
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface DnsRecords {
  srv: Record<string, SrvRecord[]>;
  hosts?: Record<string, string>;
}

/** A UDP port free on 127.0.0.1 now (dnsmasq also binds TCP on it; a clash shows as a start failure). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export class Dnsmasq {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'mcpeg-dnsmasq-'));

  private constructor(
    readonly port: number,
    private records: DnsRecords,
    private readonly ttl: number,
    private readonly logQueries = false,
  ) {}

  /** What it wrote since it last started (with `logQueries`, a `query[A] name from …` line per question). */
  output = '';

  static async start(records: DnsRecords, opts: { ttl?: number; logQueries?: boolean } = {}): Promise<Dnsmasq> {
    // The port is free for UDP when picked; dnsmasq binds TCP on it too, which another process may hold: try another.
    for (let attempt = 1; ; attempt++) {
      const d = new Dnsmasq(await freeUdpPort(), records, opts.ttl ?? 1, opts.logQueries);
      try {
        await d.launch();
        return d;
      } catch (err) {
        await d.close();
        if (attempt >= 3) throw err;
      }
    }
  }

  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const lines: string[] = [];
    for (const [name, rs] of Object.entries(this.records.srv)) for (const r of rs) lines.push(`srv-host=${name},${r.target},${r.port},${r.priority ?? 0},${r.weight ?? 0}`);
    for (const [name, addr] of Object.entries(this.records.hosts ?? {})) lines.push(`host-record=${name},${addr}`);
    const conf = join(this.dir, 'records.conf');
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const args = [
      '--keep-in-foreground',
      `--port=${this.port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      // Names under .test are its own: an unknown one is NXDOMAIN, not REFUSED.
      '--local=/test/',
      `--conf-file=${conf}`,
      '--pid-file=',
      `--user=${userInfo().username}`,
      `--local-ttl=${this.ttl}`,
      '--log-facility=-',
      ...(this.logQueries ? ['--log-queries'] : []),
    ];
    const proc = spawn(DNSMASQ, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.output = '';
    proc.stderr!.on('data', (d: Buffer) => void (this.output += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => void (this.output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dnsmasq did not start: ${this.output}`)), 10_000);
      const poll = setInterval(() => {
        if (/started, version/.test(this.output)) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }
      }, 20);
      proc.once('exit', (code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`dnsmasq exited (${code}): ${this.output}`));
      });
    });
  }

  /** Stops it: queries get no answer until start() again. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** New records: dnsmasq restarted on the same port with them. */
  async set(records: DnsRecords): Promise<void> {
    this.records = records;
    await this.restart();
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
