/**
 * A check on the address a backend connection actually goes to. A discovered replica named
 * by a host name (a DNS SRV target, a Consul node name) is resolved by the system resolver
 * when the connection opens, not when the name was checked; the guard's `lookup` resolves
 * it then and keeps only the addresses the check allows, so a name that resolves to cloud
 * metadata (169.254.169.254) is never connected to, however it resolves. An IP address as
 * the host is not looked up (node:net connects to it directly), so the guard's `connect`
 * checks it itself: discovery checked the URL's before, but a connection may go elsewhere
 * (a redirect a fetch follows), and what is checked is where each connection goes.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { SSE_CONNECTIONS } from './sse-fetch.js';

/** Why an address may not be connected to, or undefined. */
export type AddressCheck = (address: string) => string | undefined;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export interface ConnectGuard {
  /** Distinguishes connection pools: a pool's connections were all made through one guard. */
  readonly id: number;
  /** For node:net / tls connect options: resolves a name, keeps only the addresses the check allows. */
  readonly lookup: (host: string, opts: LookupOptions, cb: LookupCallback) => void;
  /** undici's `connect` (a Pool's, an Agent's): an IP literal host checked, a name resolved through `lookup`. */
  readonly connect: buildConnector.connector;
  /** A fetch whose connections go through `lookup` (the SDK's SSE client takes one). */
  readonly fetch: typeof globalThis.fetch;
}

let ids = 0;

export function connectGuard(check: AddressCheck): ConnectGuard {
  const lookup = (host: string, opts: LookupOptions, cb: LookupCallback) => {
    dnsLookup(host, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err, '');
      const ok = addresses.filter((a) => check(a.address) === undefined);
      if (ok.length === 0) {
        const why = addresses.length ? check(addresses[0].address) : 'no address';
        return cb(Object.assign(new Error(`${host}: not connected to: ${why}`), { code: 'EADDRNOTAVAIL' }), '');
      }
      return opts.all ? cb(null, ok) : cb(null, ok[0].address, ok[0].family);
    });
  };
  // undici's own connector (its defaults: a 10 s connect timeout, TLS session cache) with the guard's lookup.
  const viaLookup = buildConnector({ lookup: lookup as never });
  const connect: buildConnector.connector = (opts, cb) => {
    const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
    const why = isIP(host) ? check(host) : undefined;
    if (why) return cb(Object.assign(new Error(`${host}: not connected to: ${why}`), { code: 'EADDRNOTAVAIL' }), null);
    return viaLookup(opts, cb);
  };
  let agent: Agent | undefined;
  const fetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) => {
    // As many connections per origin as a legacy SSE backend may hold (sse-fetch.ts).
    agent ??= new Agent({ connect, connections: SSE_CONNECTIONS });
    return undiciFetch(input, { ...init, dispatcher: agent });
  }) as unknown as typeof globalThis.fetch;
  return { id: ++ids, lookup, connect, fetch };
}
