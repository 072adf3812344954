/** What a compromised Kubernetes API server's EndpointSlices can make the gateway build (kubernetes/source.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkEndpoints } from '../../../src/discovery/checks.js';
import { KubernetesSource } from '../../../src/discovery/kubernetes/source.js';
import type { Endpoint } from '../../../src/discovery/types.js';

type Inside = { slices: Map<string, unknown>; endpoints(): Endpoint[] };
const source = () => new KubernetesSource({ service: 'search', scheme: 'http', path: '/mcp', retry: 1000 }) as unknown as Inside;
const slice = (name: string, addresses: string[]) => ({
  metadata: { name },
  ports: [{ port: 8080 }],
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
});

describe('Kubernetes EndpointSlices from an untrusted API server', () => {
  it('an address carrying URL characters (10.0.0.1/steal?x=) cannot choose the port or path: it is left out', () => {
    const s = source();
    s.slices.set('a', slice('a', ['10.0.0.1/steal?x=', '10.0.0.2', 'fd00::3']));
    const urls = checkEndpoints(s.endpoints(), 64).endpoints.map((e) => e.url);
    assert.deepEqual(urls, ['http://10.0.0.2:8080/mcp', 'http://[fd00::3]:8080/mcp']);
  });

  it('endpoints built per event are bounded (slices × endpoints would be a million URLs at every watch event)', () => {
    const s = source();
    for (let i = 0; i < 10; i++)
      s.slices.set(
        `s${i}`,
        slice(
          `s${i}`,
          Array.from({ length: 1000 }, (_, j) => `10.${i}.${j >> 8}.${j & 255}`),
        ),
      );
    const eps = s.endpoints();
    assert.ok(eps.length <= 4096, `${eps.length} endpoints built from one event`);
  });
});
