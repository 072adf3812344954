/**
 * Where a discovered replica may be: `backends.<name>.discovery.allowed_hosts`. A replica
 * source (DNS SRV, Consul, Kubernetes) is outside input, and a replica receives what the
 * config file gives its backend (headers, credentials): without this check, whoever can
 * answer the source could point them at any host.
 *
 * - Always refused, listed or not: addresses that are never an MCP server's (link-local,
 *   where cloud metadata lives: 169.254.0.0/16, fe80::/10; the metadata services elsewhere:
 *   fd00:ec2::254, 100.100.100.200, 168.63.129.16; unspecified: 0.0.0.0/8, which Linux connects to the
 *   local host, and ::; multicast and broadcast). Loopback is not:
 *   sidecars and local replicas use it, and a loopback listener is the host's own.
 * - With entries: an IP address must be in one of the ranges, a name must match one of the
 *   name patterns (`*` one label, `**` any number of labels, `?` one character; no case).
 *
 * A name is checked here as written; the address it resolves to when connecting is checked
 * by the replica's transport (connect-guard.ts) with connectCheck: the always-refused
 * ranges, and with a list, loopback unless a listed range covers it.
 */
import { isIP } from 'node:net';
import { compileGlob } from '../util/glob.js';
import { inIpRanges, ipRangeList, parseIpRange, type IpRange } from '../util/ip-range.js';

/** [range, why] of what no replica may be. */
const NEVER: ReadonlyArray<readonly [string, string]> = [
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['fe80::/10', 'link-local'],
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['::/128', 'unspecified'],
  ['224.0.0.0/4', 'multicast'],
  ['ff00::/8', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  // NAT64 (RFC 6052) of 169.254.0.0/16: the same metadata address through a translator.
  ['64:ff9b::a9fe:0/112', 'link-local (cloud metadata) through NAT64'],
  // Cloud metadata services outside link-local: the single addresses (their ranges hold real hosts).
  ['fd00:ec2::254/128', 'cloud metadata (AWS, over IPv6)'],
  ['100.100.100.200/32', 'cloud metadata (Alibaba Cloud)'],
  // Azure's WireServer (VM agent and extension channel), a public address answered by the host.
  ['168.63.129.16/32', 'cloud metadata (Azure WireServer)'],
];
const NEVER_LISTS = NEVER.map(([r, why]) => ({ list: ipRangeList([parseIpRange(r)!]), why }));

/** A host name pattern: labels of letters, digits, "_", "-", "*" and "?", an optional final dot. */
const NAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9_*?-]+(\.[A-Za-z0-9_*?-]+)*\.?$/;

/** Why an entry of allowed_hosts is invalid, or undefined. */
export function allowedHostProblem(entry: string): string | undefined {
  if (/[/:]/.test(entry) || isIP(entry)) return parseIpRange(entry) ? undefined : `${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)`;
  if (!NAME_PATTERN.test(entry)) return `${JSON.stringify(entry)} is not a host name pattern (labels of letters, digits, "-", "_", "*" and "?", e.g. *.search.svc.cluster.local)`;
  try {
    compileGlob(labelsAsSegments(entry));
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** Why an IP address may never be a replica's, or undefined. */
export function neverAllowed(address: string): string | undefined {
  for (const n of NEVER_LISTS) if (inIpRanges(n.list, address)) return `${address} is ${n.why}, never allowed`;
  return undefined;
}

export interface HostPolicy {
  /** Entries were listed (else only the always-refused ranges apply). */
  readonly listed: boolean;
  /** Why a URL's host (name or IP address, IPv6 with or without brackets) is refused, or undefined if allowed. */
  refuses(host: string): string | undefined;
  /**
   * Why a connection may not go to `address` (an IP address a host name resolved to, or the
   * URL's own), or undefined: the never-allowed ranges, and with a list, loopback that no
   * listed range covers (a name the list admits is not thereby let onto the local host's ports).
   */
  connectCheck(address: string): string | undefined;
}

const LOOPBACK = ipRangeList([parseIpRange('127.0.0.0/8')!, parseIpRange('::1')!]);

/** The policy of allowed_hosts entries (validated by the config schema: invalid ones throw). */
export function hostPolicy(entries: readonly string[]): HostPolicy {
  const ranges: IpRange[] = [];
  const names: Array<(s: string) => boolean> = [];
  for (const e of entries) {
    const problem = allowedHostProblem(e);
    if (problem) throw new Error(`allowed_hosts: ${problem}`);
    const r = parseIpRange(e);
    if (r) ranges.push(r);
    else names.push(compileGlob(labelsAsSegments(e), { ignoreCase: true }));
  }
  const list = ipRangeList(ranges);
  const listed = entries.length > 0;
  return {
    listed,
    refuses(raw) {
      const host = raw.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) {
        const never = neverAllowed(host);
        if (never) return never;
        return !listed || inIpRanges(list, host) ? undefined : `${host} is not in allowed_hosts`;
      }
      const name = labelsAsSegments(host.toLowerCase());
      return !listed || names.some((m) => m(name)) ? undefined : `${host} is not in allowed_hosts`;
    },
    connectCheck(address) {
      const never = neverAllowed(address);
      if (never) return never;
      return listed && inIpRanges(LOOPBACK, address) && !inIpRanges(list, address) ? `${address} is loopback, not in allowed_hosts` : undefined;
    },
  };
}

/** A host name's labels as glob segments ("a.b.c" → "a/b/c"), so `*` stays within a label; one final dot dropped. */
function labelsAsSegments(name: string): string {
  return name.replace(/\.$/, '').split('.').join('/');
}
