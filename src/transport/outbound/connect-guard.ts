/**
 * A check on the address a backend connection actually goes to. A discovered replica named
 * by a host name (a DNS SRV target, a Consul node name) is resolved by the system resolver
 * when the connection opens, not when the name was checked; the guard's `lookup` resolves
 * it then and keeps only the addresses the check allows, so a name that resolves to cloud
 * metadata (169.254.169.254) is never connected to, however it resolves. An IP address in
 * the URL is not looked up (node:net connects to it directly): discovery checked it before.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, fetch as undiciFetch } from 'undici';

/** Why an address may not be connected to, or undefined. */
export type AddressCheck = (address: string) => string | undefined;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export interface ConnectGuard {
  /** Distinguishes connection pools: a pool's connections were all made through one guard. */
  readonly id: number;
  /** For node:net / tls connect options (undici's `connect.lookup`). */
  readonly lookup: (host: string, opts: LookupOptions, cb: LookupCallback) => void;
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
  let agent: Agent | undefined;
  const fetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) => {
    agent ??= new Agent({ connect: { lookup: lookup as never } });
    return undiciFetch(input, { ...init, dispatcher: agent });
  }) as unknown as typeof globalThis.fetch;
  return { id: ++ids, lookup, fetch };
}
