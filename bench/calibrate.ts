/**
 * Calibration of our load generator against autocannon, where autocannon fits: the limit
 * backend is stateless (no session header to pin), so every connection can send the same
 * prebuilt tools/call. If the two agree, our generator is not what limits the numbers.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CLIENT_VERSION } from './load/mcp-client.js';

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

export interface Calibration {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function autocannonDirect(root: string, port: number, connections: number, seconds: number): Promise<Calibration> {
  const require = createRequire(join(root, 'tools/bench/package.json'));
  const autocannon = require('autocannon') as Autocannon;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/mcp`,
    connections,
    duration: Math.max(1, Math.round(seconds)),
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': CLIENT_VERSION },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } }),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}
