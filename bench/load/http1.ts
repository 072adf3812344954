/**
 * One keep-alive HTTP/1.1 connection, one request at a time: the cheapest client we can
 * write, so the load generator is not what limits the numbers. Requests are prebuilt
 * buffers; responses are parsed for status, a few headers and a body framed by
 * Content-Length, chunked transfer coding (RFC 9112 §7.1) or connection close.
 */
import { connect, type Socket } from 'node:net';

export interface Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Serializes a request once; send it as often as you like. */
export function buildRequest(method: string, host: string, path: string, headers: Record<string, string>, body?: string | Buffer): Buffer {
  const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (payload) head += `content-length: ${payload.length}\r\n`;
  head += '\r\n';
  return payload ? Buffer.concat([Buffer.from(head, 'latin1'), payload]) : Buffer.from(head, 'latin1');
}

type Phase = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailer' | 'close';

export class Http1Connection {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private pending: { resolve(r: Response): void; reject(e: Error): void } | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private phase: Phase = 'head';
  private status = 0;
  private headers: Record<string, string> = {};
  private parts: Buffer[] = [];
  private remaining = 0;
  private keepAlive = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
    private readonly timeoutMs = 30_000,
  ) {}

  async send(request: Buffer): Promise<Response> {
    if (this.pending) throw new Error('Http1Connection: one request at a time');
    const socket = this.socket ?? (await this.open());
    return new Promise<Response>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.phase = 'head';
      this.headers = {};
      this.parts = [];
      this.timer = setTimeout(() => this.fail(new Error(`no response within ${this.timeoutMs} ms`)), this.timeoutMs);
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Promise<Socket> {
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const s = connect({ port: this.port, host: this.host, noDelay: true });
      s.once('connect', () => {
        s.off('error', reject);
        this.socket = s;
        this.connecting = undefined;
        this.buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => this.onData(d));
        s.on('error', (e) => this.fail(e));
        s.on('close', () => this.onClose(s));
        resolve(s);
      });
      s.once('error', (e) => {
        this.connecting = undefined;
        reject(e);
      });
    });
    return this.connecting;
  }

  private onClose(s: Socket): void {
    if (this.socket === s) this.socket = undefined;
    if (this.pending && this.phase === 'close') return this.complete();
    this.fail(new Error('connection closed before the response was complete'));
  }

  private fail(e: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(this.timer);
    this.close();
    p.reject(e);
  }

  private complete(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(this.timer);
    const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    if (!this.keepAlive) this.close();
    p.resolve({ status: this.status, headers: this.headers, body });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.pending && this.buf.length > 0) {
      if (!this.step()) return;
    }
  }

  /** Consumes what it can of this.buf; false when it needs more bytes. */
  private step(): boolean {
    const b = this.buf;
    switch (this.phase) {
      case 'head': {
        const end = b.indexOf(CRLF2);
        if (end < 0) return false;
        this.parseHead(b.toString('latin1', 0, end));
        this.buf = b.subarray(end + 4);
        return this.afterHead();
      }
      case 'length': {
        const n = Math.min(this.remaining, b.length);
        this.parts.push(b.subarray(0, n));
        this.buf = b.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.complete();
        return true;
      }
      case 'chunk-size': {
        const nl = b.indexOf('\r\n');
        if (nl < 0) return false;
        const size = parseInt(b.toString('latin1', 0, nl).split(';')[0], 16);
        this.buf = b.subarray(nl + 2);
        if (!Number.isFinite(size)) {
          this.fail(new Error('bad chunk size'));
          return false;
        }
        this.remaining = size;
        this.phase = size === 0 ? 'trailer' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        const n = Math.min(this.remaining, b.length);
        this.parts.push(b.subarray(0, n));
        this.buf = b.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.phase = 'chunk-crlf';
        return true;
      }
      case 'chunk-crlf':
        if (b.length < 2) return false;
        this.buf = b.subarray(2);
        this.phase = 'chunk-size';
        return true;
      case 'trailer': {
        const nl = b.indexOf('\r\n');
        if (nl < 0) return false;
        this.buf = b.subarray(nl + 2);
        if (nl === 0) this.complete(); // empty line ends the trailer section
        return true;
      }
      case 'close':
        this.parts.push(b);
        this.buf = Buffer.alloc(0);
        return true;
    }
  }

  private parseHead(head: string): void {
    const lines = head.split('\r\n');
    this.status = Number(lines[0].split(' ')[1]);
    const h: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      if (c > 0) h[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
    }
    this.headers = h;
    this.keepAlive = (h.connection ?? '').toLowerCase() !== 'close';
  }

  private afterHead(): boolean {
    const h = this.headers;
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) {
      this.complete();
      return true;
    }
    if ((h['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      this.phase = 'chunk-size';
      return true;
    }
    if (h['content-length'] !== undefined) {
      this.remaining = Number(h['content-length']);
      this.phase = 'length';
      if (this.remaining === 0) this.complete();
      return true;
    }
    this.phase = 'close';
    this.keepAlive = false;
    return true;
  }
}
