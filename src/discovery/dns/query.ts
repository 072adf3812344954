/**
 * One DNS question to one server, answered with its records' TTLs (node:dns gives SRV
 * records without them). UDP first; a truncated answer (TC, RFC 1035 §4.2.1) is asked
 * again over TCP (RFC 7766), bounded in size. The answer must echo the question's id and
 * name (RFC 5452 §9: a spoofed or stray datagram is ignored, not believed).
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import * as packet from 'dns-packet';

export interface DnsServer {
  host: string;
  port: number;
}

export interface DnsAnswer {
  rcode: string;
  answers: packet.Answer[];
  additionals: packet.Answer[];
}

/** "10.0.0.2:53" or "[fd00::2]:53". */
export function parseServer(s: string): DnsServer {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`not host:port: ${s}`);
  return { host: m[1], port: Number(m[2]) };
}

export async function query(server: DnsServer, name: string, type: packet.RecordType, timeoutMs: number, maxBytes: number): Promise<DnsAnswer> {
  const id = randomInt(0, 65536);
  const q: packet.Packet = { type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] };
  let res = await overUdp(server, packet.encode(q), id, name, timeoutMs);
  if (res.flag_tc) res = await overTcp(server, packet.streamEncode(q), id, name, timeoutMs, maxBytes);
  const rcode = String((res as unknown as { rcode?: string }).rcode ?? 'NOERROR');
  return { rcode, answers: res.answers ?? [], additionals: res.additionals ?? [] };
}

const sameName = (a: string, b: string) => a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();

function matches(res: packet.DecodedPacket, id: number, name: string): boolean {
  return res.type === 'response' && res.id === id && (res.questions?.length ?? 0) === 1 && sameName(res.questions![0].name, name);
}

/** An IP address in one spelling (the URL parser's: IPv6 compressed, lower case). */
function canonicalIp(a: string): string {
  try {
    return new URL(`http://${a.includes(':') ? `[${a}]` : a}/`).hostname;
  } catch {
    return a;
  }
}

function overUdp(server: DnsServer, msg: Buffer, id: number, name: string, timeoutMs: number): Promise<packet.DecodedPacket> {
  const expected = canonicalIp(server.host);
  return new Promise((resolve, reject) => {
    const sock = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => done(new Error(`no answer from ${server.host}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | undefined, res?: packet.DecodedPacket) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (err) => done(err));
    sock.on('message', (buf, from) => {
      // Only the server asked may answer (RFC 5452 §9.1: address, port, id and question).
      if (from.port !== server.port || canonicalIp(from.address) !== expected) return;
      let res: packet.DecodedPacket;
      try {
        res = packet.decode(buf);
      } catch {
        return; // not DNS: keep waiting for the real answer
      }
      if (matches(res, id, name)) done(undefined, res);
    });
    sock.send(msg, server.port, server.host, (err) => {
      if (err) done(err);
    });
  });
}

function overTcp(server: DnsServer, msg: Buffer, id: number, name: string, timeoutMs: number, maxBytes: number): Promise<packet.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: server.host, port: server.port });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => done(new Error(`no TCP answer from ${server.host}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | undefined, res?: packet.DecodedPacket) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (err) => done(err));
    sock.on('connect', () => sock.write(msg));
    sock.on('data', (d: Buffer) => {
      size += d.length;
      if (size > maxBytes + 2) return done(new Error(`answer from ${server.host}:${server.port} larger than ${maxBytes} bytes`));
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.length < 2 || all.length < 2 + all.readUInt16BE(0)) return;
      let res: packet.DecodedPacket;
      try {
        res = packet.decode(all.subarray(2, 2 + all.readUInt16BE(0)));
      } catch (err) {
        return done(new Error(`malformed DNS answer: ${(err as Error).message}`));
      }
      if (!matches(res, id, name)) return done(new Error('the TCP answer does not match the question'));
      done(undefined, res);
    });
    sock.on('end', () => done(new Error('connection closed before a whole answer')));
  });
}
