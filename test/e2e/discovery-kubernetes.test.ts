/**
 * Kubernetes discovery end to end: the official client library (@kubernetes/client-node)
 * against a test server reproducing the EndpointSlice list and watch of the Kubernetes
 * API (test/helpers/kube-api.ts: resourceVersion, bookmarks, 410 Gone), with a kubeconfig
 * and a bearer token. Real replica processes, the gateway, one SDK client session
 * throughout: ready endpoints only, slices added, changed and deleted, a watch resumed
 * from a bookmark, a relist after 410, the API server away and back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';
import { type HttpReplica, killAllReplicas, startReplicas } from '../helpers/replicas.js';
import { endpointSlice, FakeKubeApi } from '../helpers/kube-api.js';
import { refusedMetric, SECRET_HEADER, sourceState, startAttacker } from '../helpers/replica-attacker.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;
const NS = 'tools';

describe('Kubernetes discovery (EndpointSlices, @kubernetes/client-node)', () => {
  let api: FakeKubeApi;
  let reps: HttpReplica[];
  let gw: Gw;
  let client: Client;
  const slice = (name: string, r: HttpReplica, ready = true, service = 'web') => endpointSlice(NS, name, service, r.port, [{ ip: '127.0.0.1', ready }]);
  const url = (r: HttpReplica) => `http://127.0.0.1:${r.port}/mcp`;
  const replicas = () =>
    gw.gw.registry
      .backend('web')!
      .replicaStates()
      .map((r) => r.endpoint)
      .join(' ');
  const status = async () => ((await (await fetch(`${gw.base}/health`)).json()) as { discovery: Array<{ state: string; lastError: string | null }> }).discovery[0];
  const whoami = async () => ((await client.callTool({ name: 'web__whoami', arguments: {} })).structuredContent as { replica: string }).replica;

  before(async () => {
    reps = await startReplicas('A', 'B', 'C');
    api = new FakeKubeApi(NS, 'sa-token-abcdef');
    await api.start();
    api.put(slice('web-a', reps[0]));
    api.put(slice('web-b', reps[1], false));
    api.put(slice('other', reps[2], true, 'other-service'));
    gw = await startGateway({
      backends: {
        web: {
          type: 'mcp',
          session_mode: 'shared',
          connect_timeout: '5s',
          discovery: { kubernetes: { service: 'web', port: 'mcp', kubeconfig: api.kubeconfig(), retry: '200ms' } },
        },
      },
      discovery: { drain_timeout: '5s' },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await api?.stop();
    await killAllReplicas();
  });

  it('lists the Service’s slices (label selector, token, the kubeconfig’s namespace): ready endpoints only', async () => {
    assert.equal(replicas(), url(reps[0]));
    assert.equal(await whoami(), 'A');
    const list = api.requests.find((r) => !r.watch)!;
    assert.equal(list.labelSelector, 'kubernetes.io/service-name=web');
    assert.equal(list.auth, 'Bearer sa-token-abcdef');
    await waitFor(() => api.requests.some((r) => r.watch), 'a watch');
    const w = api.requests.find((r) => r.watch)!;
    assert.equal(w.bookmarks, 'true');
    assert.ok(Number(w.resourceVersion) > 0, 'the watch starts from the list’s resourceVersion');
  });

  it('follows the watch: an endpoint becoming ready, a slice added, a slice deleted; the session keeps working', async () => {
    api.put(slice('web-b', reps[1], true));
    await waitFor(() => replicas() === `${url(reps[0])} ${url(reps[1])}`, 'B ready');
    api.put(slice('web-c', reps[2]));
    await waitFor(() => replicas() === `${url(reps[0])} ${url(reps[1])} ${url(reps[2])}`, 'C added');
    api.delete('web-a');
    await waitFor(() => replicas() === `${url(reps[1])} ${url(reps[2])}`, 'A deleted');
    // B and C joined moments ago: calls go to them once they are up (until then A, leaving, takes no new work).
    await waitFor(() => gw.gw.registry.backend('web')!.replicas.every((r) => r.available), 'B and C up');
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await whoami());
    assert.deepEqual([...seen].sort(), ['B', 'C']);
  });

  it('a watch that ends is resumed from the last bookmark’s resourceVersion, without a list', async () => {
    const lists = api.requests.filter((r) => !r.watch).length;
    await new Promise((r) => setTimeout(r, 700)); // bookmarks arrive every 300 ms
    const rvAtEnd = api.rv;
    const n = api.requests.length;
    api.endWatches();
    await waitFor(() => api.requests.slice(n).some((r) => r.watch), 'watch again');
    const again = api.requests.slice(n).find((r) => r.watch)!;
    assert.ok(Number(again.resourceVersion) >= rvAtEnd - 1, `resumed from ${again.resourceVersion} (a bookmark near ${rvAtEnd})`);
    assert.equal(api.requests.filter((r) => !r.watch).length, lists, 'no list');
  });

  it('410 Gone forces a relist, which picks up what changed meanwhile', async () => {
    const lists = api.requests.filter((r) => !r.watch).length;
    api.compact();
    // A change the client could only learn from the new list (the history was compacted).
    api.put(slice('web-a', reps[0]));
    await waitFor(() => api.requests.filter((r) => !r.watch).length > lists, 'a relist');
    await waitFor(() => replicas() === `${url(reps[1])} ${url(reps[2])} ${url(reps[0])}`, 'A back after the relist');
    assert.equal((await status()).state, 'ok');
  });

  it('the API server away: nothing changes (reported failing); back: relisted and followed', async () => {
    const before = replicas();
    const port = api.port;
    await api.stop();
    await waitFor(async () => (await status()).state === 'failing', 'failing');
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(replicas(), before);
    assert.ok(['A', 'B', 'C'].includes(await whoami()));
    await api.start(port);
    api.delete('web-c');
    await waitFor(() => replicas() === `${url(reps[1])} ${url(reps[0])}`, 'followed again', 10_000);
    assert.equal((await status()).state, 'ok');
  });
});

describe('Kubernetes discovery: EndpointSlices pointing outside allowed_hosts', () => {
  it('endpoints anyone with create on EndpointSlices could add never join: outside the list, or (no list) link-local and unspecified; the secret header never reaches them', async () => {
    const [a, b] = await startReplicas('A', 'B');
    const attacker = await startAttacker();
    const api = new FakeKubeApi(NS, 'sa-token-abcdef');
    await api.start();
    api.put(endpointSlice(NS, 'web-good', 'web', a.port, [{ ip: '127.0.0.1' }]));
    api.put(endpointSlice(NS, 'open-good', 'open', b.port, [{ ip: '127.0.0.1' }]));
    const gw = await startGateway({
      backends: {
        // With a list: only 127.0.0.1.
        web: {
          type: 'mcp',
          session_mode: 'shared',
          connect_timeout: '5s',
          headers: SECRET_HEADER,
          discovery: { kubernetes: { service: 'web', port: 'mcp', kubeconfig: api.kubeconfig(), retry: '200ms' }, allowed_hosts: ['127.0.0.1/32'] },
        },
        // Without: the always-refused ranges only.
        open: {
          type: 'mcp',
          session_mode: 'shared',
          connect_timeout: '5s',
          headers: SECRET_HEADER,
          discovery: { kubernetes: { service: 'open', port: 'mcp', kubeconfig: api.kubeconfig(), retry: '200ms' } },
        },
      },
    });
    const client = await connectClient(gw.url);
    const who = async (tool: string) => ((await client.callTool({ name: tool, arguments: {} })).structuredContent as { replica: string }).replica;
    const endpoints = (name: string) =>
      gw.gw.registry
        .backend(name)!
        .replicaStates()
        .map((r) => r.endpoint);
    try {
      assert.equal(await who('web__whoami'), 'A');
      assert.equal(await who('open__whoami'), 'B');
      api.put(endpointSlice(NS, 'web-evil', 'web', attacker.port, [{ ip: '127.0.0.2' }, { ip: '2852039166' }, { ip: '169.254.169.254' }]));
      api.put(endpointSlice(NS, 'open-evil', 'open', attacker.port, [{ ip: '169.254.169.254' }, { ip: '0.0.0.0' }]));
      await waitFor(async () => (await sourceState(gw.base, 'kubernetes:web')).refusedCount === 2, 'web: two refused');
      await waitFor(async () => (await sourceState(gw.base, 'kubernetes:open')).refusedCount === 2, 'open: two refused');
      // 2852039166 is 169.254.169.254 written as one number: the URL parser makes it the same endpoint, refused once.
      assert.deepEqual((await sourceState(gw.base, 'kubernetes:web')).refused, [
        `http://127.0.0.2:${attacker.port}/mcp: 127.0.0.2 is not in allowed_hosts`,
        `http://169.254.169.254:${attacker.port}/mcp: 169.254.169.254 is link-local (cloud metadata), never allowed`,
      ]);
      assert.deepEqual((await sourceState(gw.base, 'kubernetes:open')).refused, [
        `http://169.254.169.254:${attacker.port}/mcp: 169.254.169.254 is link-local (cloud metadata), never allowed`,
        `http://0.0.0.0:${attacker.port}/mcp: 0.0.0.0 is unspecified ("this network"), never allowed`,
      ]);
      assert.equal(await refusedMetric(gw.base, 'kubernetes:web'), 2);
      assert.equal(await refusedMetric(gw.base, 'kubernetes:open'), 2);
      assert.deepEqual(endpoints('web'), [`http://127.0.0.1:${a.port}/mcp`]);
      assert.deepEqual(endpoints('open'), [`http://127.0.0.1:${b.port}/mcp`]);
      for (let i = 0; i < 4; i++) {
        assert.equal(await who('web__whoami'), 'A');
        assert.equal(await who('open__whoami'), 'B');
      }
      assert.equal(attacker.all().length, 0, 'no request (and so no Authorization header) reached 127.0.0.2');
    } finally {
      await client.close();
      await gw.close();
      await api.stop();
      await attacker.close();
      await killAllReplicas();
    }
  });
});
