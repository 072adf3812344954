/**
 * Traffic management end to end: real replica processes (test/fixtures/replica-server.js
 * over Streamable HTTP, and over stdio spawned by the gateway), the real gateway, the
 * official SDK client. Load balancing per strategy and session affinity, consistent
 * hashing across a replica's death and return, a replica killed under load, the circuit
 * breaker, retries (idempotent, non-idempotent, never sent), the bulkhead and per-tool
 * timeouts, active health checks (SIGSTOP/SIGCONT) and outlier ejection.
 *
 * Replica ids: a backend's replicas are `<backend>#<index>` in the gateway, in the order of
 * `endpoints:` / `replicas:`; the fixture answers whoami/echo with its own --id.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Backend } from '../../src/upstream/backend.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';
import { type HttpReplica, killAllReplicas, startReplicas, stdioReplica } from '../helpers/replicas.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;
interface Answer {
  replica: string;
  calls?: number;
  pid?: number;
  key?: string | null;
  slept?: number;
}
interface Failure {
  code: number;
  message: string;
  mcpegCode: string | undefined;
  data: Record<string, unknown> | undefined;
  ms: number;
}
interface ReplicaHealth {
  id: string;
  state: string;
  available: boolean;
  healthy: boolean;
  ejected: boolean;
  breaker?: string;
  active: number;
}

/** Short timeouts and fast restarts, so that deaths and returns are seen within a second. */
const FAST = { timeout: '10s', connect_timeout: '2s', restart: { initial_delay: '100ms', max_delay: '500ms' } };
const FAST_HEALTH = { interval: '200ms', timeout: '500ms', unhealthy_threshold: 2, healthy_threshold: 1 };

const endpoints = (reps: HttpReplica[], weights?: number[]) => reps.map((r, i) => ({ url: r.url, weight: weights?.[i] ?? 1 }));
const backendOf = (gw: Gw, name: string): Backend => gw.gw.registry.backend(name)!;
const states = (gw: Gw, name: string) => backendOf(gw, name).replicaStates();
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(c: Client, name: string, args: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Answer> {
  const r = await c.callTool({ name, arguments: args }, undefined, signal ? { signal } : undefined);
  if (r.isError) throw new Error(`${name} answered isError: ${JSON.stringify(r.content)}`);
  return r.structuredContent as unknown as Answer;
}

/** Runs fn, which must fail with a JSON-RPC error; returns it with how long it took. */
async function failure(fn: () => Promise<unknown>): Promise<Failure> {
  const t0 = performance.now();
  try {
    await fn();
  } catch (err) {
    const ms = performance.now() - t0;
    assert.ok(err instanceof McpError, `expected an McpError, got ${(err as Error).stack}`);
    const data = err.data as Record<string, unknown> | undefined;
    return { code: err.code, message: err.message, mcpegCode: data?.mcpegCode as string | undefined, data, ms };
  }
  assert.fail('expected the call to fail');
}

/** `n` calls one after another; the replica id of each answer. */
async function sequence(c: Client, tool: string, n: number, args: (i: number) => Record<string, unknown> = () => ({})): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await call(c, tool, args(i))).replica);
  return out;
}

function tally(ids: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const id of ids) t[id] = (t[id] ?? 0) + 1;
  return t;
}

function longestRun(seq: string[]): number {
  let best = 0;
  let run = 0;
  seq.forEach((id, i) => {
    run = i > 0 && seq[i - 1] === id ? run + 1 : 1;
    best = Math.max(best, run);
  });
  return best;
}

/** At most `limit` of fn at a time over items. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** The per-replica detail of a backend as GET /health shows it. */
async function healthReplicas(gw: Gw, name: string): Promise<ReplicaHealth[]> {
  const body = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; replicas?: ReplicaHealth[] }> };
  const b = body.backends.find((x) => x.name === name);
  assert.ok(b?.replicas, `/health lists the replicas of "${name}"`);
  return b.replicas;
}

/** A gateway (and one client) per describe block; `make` runs once the replicas exist. */
function useGateway(make: () => Record<string, unknown>): { gw: Gw; client: Client } {
  const ctx = {} as { gw: Gw; client: Client };
  before(async () => {
    const config = make();
    ctx.gw = await startGateway(config);
    // listen() returns with replicas that failed to start (a busy machine may miss connect_timeout): wait for all.
    const names = Object.keys(config.backends as Record<string, unknown>);
    await waitFor(() => names.every((n) => backendOf(ctx.gw, n).replicas.every((r) => r.available)), 'every replica up', 20_000);
    ctx.client = await connectClient(ctx.gw.url);
  });
  after(async () => {
    await ctx.client?.close().catch(() => {});
    await ctx.gw?.close();
  });
  return ctx;
}

describe('traffic management through the gateway', () => {
  /** Three HTTP replicas that nothing kills, shared by the blocks that only call them. */
  let abc: HttpReplica[];
  before(async () => {
    abc = await startReplicas('A', 'B', 'C');
  });
  after(async () => {
    await killAllReplicas();
  });

  describe('load balancing (session_mode: shared, so every call is balanced)', () => {
    const lb = (strategy: string, httpWeights?: number[], stdioWeights: number[] = [1, 1]) => ({
      backends: {
        web: { type: 'mcp', endpoints: endpoints(abc, httpWeights), session_mode: 'shared', load_balancing: { strategy, hash_key: 'argument:key' }, ...FAST },
        local: {
          type: 'mcp',
          replicas: [stdioReplica('S1', stdioWeights[0]), stdioReplica('S2', stdioWeights[1])],
          session_mode: 'shared',
          load_balancing: { strategy, hash_key: 'argument:key' },
          ...FAST,
        },
      },
    });

    describe('round_robin', () => {
      const ctx = useGateway(() => lb('round_robin'));

      it('HTTP replicas take turns: A B C A B C …, exactly equal shares', async () => {
        const seq = await sequence(ctx.client, 'web__whoami', 60);
        assert.deepEqual(tally(seq), { A: 20, B: 20, C: 20 });
        assert.equal(new Set(seq.slice(0, 3)).size, 3);
        seq.forEach((id, i) => assert.equal(id, seq[i % 3], `call ${i} breaks the rotation: ${seq.join('')}`));
      });

      it('stdio replicas alternate', async () => {
        const seq = await sequence(ctx.client, 'local__whoami', 10);
        assert.deepEqual(tally(seq), { S1: 5, S2: 5 });
        seq.forEach((id, i) => i > 0 && assert.notEqual(id, seq[i - 1], seq.join(' ')));
      });
    });

    describe('weighted (smooth weighted round robin)', () => {
      const ctx = useGateway(() => lb('weighted', [1, 2, 3], [1, 3]));

      it('HTTP weights 1:2:3 give exactly 1:2:3 in every cycle of 6 calls, interleaved', async () => {
        const seq = await sequence(ctx.client, 'web__whoami', 60);
        assert.deepEqual(tally(seq), { A: 10, B: 20, C: 30 });
        for (let k = 0; k < seq.length; k += 6) assert.deepEqual(tally(seq.slice(k, k + 6)), { A: 1, B: 2, C: 3 }, `cycle at ${k}: ${seq.join('')}`);
        // Smooth: C (weight 3 of 6) never runs three in a row, as plain weighted rotation would (CCCBBA).
        assert.ok(longestRun(seq) <= 2, seq.join(''));
      });

      it('stdio weights 1:3 give exactly 1:3', async () => {
        const seq = await sequence(ctx.client, 'local__whoami', 16);
        assert.deepEqual(tally(seq), { S1: 4, S2: 12 });
        for (let k = 0; k < seq.length; k += 4) assert.deepEqual(tally(seq.slice(k, k + 4)), { S1: 1, S2: 3 }, seq.join(' '));
      });
    });

    describe('least_connections', () => {
      const ctx = useGateway(() => lb('least_connections'));

      it('idle replicas share equally', async () => {
        assert.deepEqual(tally(await sequence(ctx.client, 'web__whoami', 30)), { A: 10, B: 10, C: 10 });
        assert.deepEqual(tally(await sequence(ctx.client, 'local__whoami', 10)), { S1: 5, S2: 5 });
      });

      it('slow calls in flight keep new calls off their replicas', async () => {
        const ac = new AbortController();
        const active = () => states(ctx.gw, 'web').map((r) => r.active);
        const slow1 = call(ctx.client, 'web__sleep', { ms: 5000 }, ac.signal).catch(() => undefined);
        await waitFor(() => active().filter((a) => a === 1).length === 1, 'the first slow call in flight');
        const slow2 = call(ctx.client, 'web__sleep', { ms: 5000 }, ac.signal).catch(() => undefined);
        // The second slow call goes to another replica: the first one's has a call in flight.
        await waitFor(() => active().filter((a) => a === 1).length === 2, 'two slow calls in flight on two replicas');
        const idle = abc[active().indexOf(0)].id;
        try {
          assert.deepEqual(tally(await sequence(ctx.client, 'web__whoami', 20)), { [idle]: 20 });
          assert.equal(active().filter((a) => a === 1).length, 2, 'the slow calls were still in flight');
        } finally {
          ac.abort();
          await Promise.all([slow1, slow2]);
        }
        await waitFor(() => active().every((a) => a === 0), 'cancelled calls leave the replicas');
        assert.deepEqual(tally(await sequence(ctx.client, 'web__whoami', 30)), { A: 10, B: 10, C: 10 });
      });

      it('stdio: a slow call keeps new calls on the other replica', async () => {
        const ac = new AbortController();
        const active = () => states(ctx.gw, 'local').map((r) => r.active);
        const slow = call(ctx.client, 'local__sleep', { ms: 5000 }, ac.signal).catch(() => undefined);
        await waitFor(() => active().includes(1), 'the slow call in flight');
        const idle = `S${active().indexOf(0) + 1}`;
        try {
          assert.deepEqual(tally(await sequence(ctx.client, 'local__whoami', 10)), { [idle]: 10 });
        } finally {
          ac.abort();
          await slow;
        }
      });
    });

    describe('random (power of two choices)', () => {
      const ctx = useGateway(() => lb('random'));

      it('each HTTP replica gets a fair share of 300 calls, in random order', async () => {
        const seq = await sequence(ctx.client, 'web__whoami', 300);
        const t = tally(seq);
        // Binomial(300, 1/3): mean 100, sd 8.2; ±30 is more than 3.6 sd.
        for (const id of ['A', 'B', 'C']) assert.ok(t[id] >= 70 && t[id] <= 130, JSON.stringify(t));
        // Random, not a rotation: the same replica twice in a row about a third of the time (round robin: never).
        const repeats = seq.filter((id, i) => i > 0 && seq[i - 1] === id).length;
        assert.ok(repeats >= 50 && repeats <= 160, `repeats ${repeats}`);
      });

      it('a replica with a call in flight loses every draw against an idle one', async () => {
        const ac = new AbortController();
        const active = () => states(ctx.gw, 'web').map((r) => r.active);
        const slow = call(ctx.client, 'web__sleep', { ms: 5000 }, ac.signal).catch(() => undefined);
        await waitFor(() => active().includes(1), 'the slow call in flight');
        const busy = abc[active().indexOf(1)].id;
        try {
          const t = tally(await sequence(ctx.client, 'web__whoami', 30));
          assert.equal(t[busy], undefined, JSON.stringify(t));
          assert.equal(Object.keys(t).length, 2, `both idle replicas are drawn: ${JSON.stringify(t)}`);
        } finally {
          ac.abort();
          await slow;
        }
      });

      it('stdio replicas get fair shares', async () => {
        const t = tally(await sequence(ctx.client, 'local__whoami', 60));
        // Binomial(60, 1/2): mean 30, sd 3.9.
        assert.ok(t.S1 >= 15 && t.S1 <= 45, JSON.stringify(t));
      });
    });

    describe('hash (hash_key: argument:key)', () => {
      const ctx = useGateway(() => lb('hash'));

      it('the same key always goes to the same HTTP replica; keys spread over all of them', async () => {
        const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`);
        const owner = new Map<string, string>();
        for (let round = 0; round < 3; round++) {
          for (const key of keys) {
            const r = await call(ctx.client, 'web__echo', { key });
            assert.equal(r.key, key);
            if (round === 0) owner.set(key, r.replica);
            else assert.equal(r.replica, owner.get(key), `key ${key} moved in round ${round}`);
          }
        }
        assert.deepEqual(new Set(owner.values()), new Set(['A', 'B', 'C']));
      });

      it('the same key always goes to the same stdio replica', async () => {
        const owner = new Map<string, string>();
        for (let round = 0; round < 2; round++) {
          for (let i = 0; i < 20; i++) {
            const r = await call(ctx.client, 'local__echo', { key: `k${i}` });
            if (round === 0) owner.set(`k${i}`, r.replica);
            else assert.equal(r.replica, owner.get(`k${i}`));
          }
        }
        assert.deepEqual(new Set(owner.values()), new Set(['S1', 'S2']));
      });
    });
  });

  describe('session affinity (session_mode: per_client)', () => {
    const ctx = useGateway(() => ({
      backends: {
        rr: { type: 'mcp', endpoints: endpoints(abc), session_mode: 'per_client', load_balancing: { strategy: 'round_robin' }, ...FAST },
        bysession: { type: 'mcp', endpoints: endpoints(abc), session_mode: 'per_client', load_balancing: { strategy: 'hash', hash_key: 'session' }, ...FAST },
        local: { type: 'mcp', replicas: [stdioReplica('S1'), stdioReplica('S2')], session_mode: 'per_client', load_balancing: { strategy: 'round_robin' }, ...FAST },
      },
    }));
    // Client counts are not multiples of the replica counts: a gateway that re-picked a replica
    // on every call would, by rotation, hand each client a different one in the next round.
    const clients: Client[] = [];
    before(async () => {
      for (let i = 0; i < 5; i++) clients.push(await connectClient(ctx.gw.url, { name: `affinity-${i}` }));
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
    });

    /** Each client's first call, in order, then `rounds` more rounds in which each must stay put. */
    async function sticky(tool: string, cs: Client[], rounds: number): Promise<string[]> {
      const first: string[] = [];
      for (const c of cs) first.push((await call(c, tool)).replica);
      for (let r = 0; r < rounds; r++) {
        for (const [i, c] of cs.entries()) {
          const now = (await call(c, tool)).replica;
          assert.equal(now, first[i], `client ${i} moved from ${first[i]} to ${now} in round ${r}`);
        }
      }
      // And concurrently.
      const now = await Promise.all(cs.map((c) => call(c, tool)));
      now.forEach((a, i) => assert.equal(a.replica, first[i], `client ${i} moved from ${first[i]} to ${a.replica} under concurrency`));
      return first;
    }

    it('round_robin spreads client sessions over the HTTP replicas; each stays on its own', async () => {
      const first = await sticky('rr__whoami', clients, 4);
      assert.deepEqual(first, ['A', 'B', 'C', 'A', 'B'], 'new sessions take turns');
    });

    it('hash by session: each client stays on one replica', async () => {
      await sticky('bysession__whoami', clients, 4);
    });

    it('stdio replicas: client sessions take turns and stay', async () => {
      const first = await sticky('local__whoami', clients.slice(0, 3), 3);
      assert.deepEqual(first, ['S1', 'S2', 'S1']);
    });
  });

  describe('consistent hashing as a replica dies and returns', () => {
    let reps: HttpReplica[];
    before(async () => {
      reps = await startReplicas('H1', 'H2', 'H3');
    });
    after(async () => {
      await Promise.all(reps?.map((r) => r.kill()) ?? []);
    });
    const ctx = useGateway(() => ({
      backends: {
        ring: {
          type: 'mcp',
          endpoints: endpoints(reps),
          session_mode: 'shared',
          load_balancing: { strategy: 'hash', hash_key: 'argument:key' },
          health_check: FAST_HEALTH,
          ...FAST,
        },
      },
    }));

    it('only the dead replica’s keys move, spread over the survivors; they return with it', async () => {
      const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
      const owners = async () => new Map(await mapLimit(keys, 6, async (key) => [key, (await call(ctx.client, 'ring__echo', { key })).replica] as const));
      const before = await owners();
      const share = tally([...before.values()]);
      assert.deepEqual(Object.keys(share).sort(), ['H1', 'H2', 'H3'], JSON.stringify(share));

      const victim = reps[1];
      await victim.kill();
      await waitFor(async () => (await healthReplicas(ctx.gw, 'ring'))[1].available === false, 'H2 out of rotation in /health');

      const during = await owners();
      const moved = keys.filter((k) => during.get(k) !== before.get(k));
      for (const k of keys) {
        if (before.get(k) === 'H2') assert.notEqual(during.get(k), 'H2', `${k} still answered by the dead replica`);
        else assert.equal(during.get(k), before.get(k), `${k} of surviving ${before.get(k)} moved to ${during.get(k)}`);
      }
      assert.equal(moved.length, share.H2);
      const ratio = moved.length / keys.length;
      assert.ok(ratio > 0.2 && ratio < 0.47, `moved ${moved.length} of ${keys.length} keys`);
      assert.deepEqual(new Set(moved.map((k) => during.get(k))), new Set(['H1', 'H3']), 'the ring hands the dead replica’s keys to both survivors');

      await victim.restart();
      await waitFor(async () => (await healthReplicas(ctx.gw, 'ring'))[1].available, 'H2 back in rotation', 10_000);
      assert.deepEqual(await owners(), before, 'every key is back on its original owner');
    });
  });

  describe('a replica killed under load', () => {
    let reps: HttpReplica[];
    before(async () => {
      reps = await startReplicas('K1', 'K2', 'K3');
    });
    after(async () => {
      await Promise.all(reps?.map((r) => r.kill()) ?? []);
    });
    const ctx = useGateway(() => ({
      backends: {
        load: {
          type: 'mcp',
          endpoints: endpoints(reps),
          session_mode: 'shared',
          load_balancing: { strategy: 'round_robin' },
          health_check: FAST_HEALTH,
          retries: { attempts: 2, initial_delay: '10ms', max_delay: '50ms' },
          // Short ejections and cool-downs, so that failures seen at the kill do not keep the restarted replica out for long.
          outlier_detection: { base_ejection_time: '300ms' },
          circuit_breaker: { cool_down: '300ms' },
          ...FAST,
        },
      },
    }));

    it('only calls in flight on it fail; the others take the load; it returns after a restart', async () => {
      const WORKERS = 4;
      const results: Array<{ t0: number; ok: boolean; replica?: string; code?: number; message?: string }> = [];
      let stop = false;
      const workers = Array.from({ length: WORKERS }, async () => {
        while (!stop) {
          const t0 = performance.now();
          try {
            results.push({ t0, ok: true, replica: (await call(ctx.client, 'load__whoami')).replica });
          } catch (err) {
            results.push({ t0, ok: false, code: (err as McpError).code, message: (err as Error).message });
          }
        }
      });
      let killedAt = Infinity;
      try {
        await waitFor(() => results.filter((r) => r.ok).length >= 150, '150 calls before the kill', 15_000);
        const victim = reps[1];
        await victim.kill('SIGKILL');
        killedAt = performance.now();
        await waitFor(() => results.filter((r) => r.ok && r.t0 >= killedAt).length >= 200, '200 calls after the kill', 15_000);
        await waitFor(async () => {
          const h = (await healthReplicas(ctx.gw, 'load'))[1];
          return !h.available && (h.state === 'down' || !h.healthy);
        }, 'K2 marked down in /health');
      } finally {
        stop = true;
        await Promise.all(workers);
      }

      const failures = results.filter((r) => !r.ok);
      assert.ok(failures.length <= WORKERS, `at most the calls in flight on K2 fail: ${JSON.stringify(failures)}`);
      for (const f of failures) {
        assert.ok(f.code === -32010 || f.code === -32012, JSON.stringify(f));
        assert.match(f.message!, /backend "load"/);
      }
      const beforeKill = tally(results.filter((r) => r.ok && r.t0 < killedAt).map((r) => r.replica!));
      assert.ok(beforeKill.K1 > 0 && beforeKill.K2 > 0 && beforeKill.K3 > 0, JSON.stringify(beforeKill));
      const afterKill = tally(results.filter((r) => r.ok && r.t0 >= killedAt).map((r) => r.replica!));
      assert.equal(afterKill.K2, undefined, `calls after the kill went to the dead replica: ${JSON.stringify(afterKill)}`);
      assert.ok(afterKill.K1 > 50 && afterKill.K3 > 50, JSON.stringify(afterKill));

      await reps[1].restart();
      await waitFor(async () => (await healthReplicas(ctx.gw, 'load'))[1].available, 'K2 back in rotation', 10_000);
      const pid = reps[1].pid;
      await waitFor(async () => {
        const r = await call(ctx.client, 'load__whoami');
        return r.replica === 'K2' && r.pid === pid;
      }, 'the restarted K2 answering calls');
      assert.deepEqual(tally(await sequence(ctx.client, 'load__whoami', 9)), { K1: 3, K2: 3, K3: 3 });
    });
  });

  describe('circuit breaker', () => {
    let cbRep: HttpReplica;
    let ctRep: HttpReplica;
    before(async () => {
      [cbRep, ctRep] = await startReplicas('CB', 'CT');
    });
    after(async () => {
      await Promise.all([cbRep?.kill(), ctRep?.kill()]);
    });
    const breakerCfg = { minimum_requests: 4, failure_rate_threshold: 0.5, cool_down: '500ms', window: '10s', half_open_probes: 1 };
    const ctx = useGateway(() => ({
      backends: {
        cb: { type: 'mcp', url: cbRep.url, retries: { attempts: 0 }, circuit_breaker: breakerCfg, ...FAST },
        cbt: { type: 'mcp', url: ctRep.url, retries: { attempts: 0 }, circuit_breaker: breakerCfg, tools: { sleep: { timeout: '100ms' } }, ...FAST, timeout: '1s' },
      },
    }));
    const breaker = (name: string) => states(ctx.gw, name)[0].breaker;

    it('backend failures (HTTP 500) open it; calls then fail fast without reaching the replica; a probe closes it', async () => {
      for (let i = 1; i <= 4; i++) {
        const f = await failure(() => call(ctx.client, 'cb__fail'));
        assert.equal(f.code, -32010, f.message);
        assert.match(f.message, /replica CB failed on purpose/);
        assert.equal(breaker('cb'), i < 4 ? 'closed' : 'open', `after ${i} failures`);
      }
      const openedAt = performance.now();

      const fast = await failure(() => call(ctx.client, 'cb__whoami'));
      assert.equal(fast.code, -32017);
      assert.equal(fast.mcpegCode, 'MCPEG_ERR_CIRCUIT_OPEN');
      assert.match(fast.message, /circuit open/);
      assert.ok(fast.ms < 100, `failed fast: ${fast.ms} ms`);
      assert.ok(Number(fast.data?.retryAfterMs) > 0 && Number(fast.data?.retryAfterMs) <= 500, JSON.stringify(fast.data));
      // A call that would take 2 s at the replica fails at once.
      const slow = await failure(() => call(ctx.client, 'cb__sleep', { ms: 2000 }));
      assert.equal(slow.mcpegCode, 'MCPEG_ERR_CIRCUIT_OPEN');
      assert.ok(slow.ms < 150, `failed fast: ${slow.ms} ms`);

      await waitFor(() => breaker('cb') !== 'open', 'the cool-down to pass', 5000, 20);
      assert.ok(performance.now() - openedAt >= 450, 'open for the cool-down');
      assert.equal(breaker('cb'), 'half_open');
      const probe = await call(ctx.client, 'cb__whoami');
      // 4 fails + this probe: neither call refused while open reached the replica.
      assert.equal(probe.calls, 5);
      assert.equal(breaker('cb'), 'closed');
      assert.equal((await call(ctx.client, 'cb__whoami')).calls, 6);
      assert.equal((await call(ctx.client, 'cb__echo', { key: 'x' })).key, 'x');
      assert.equal(breaker('cb'), 'closed');
    });

    it('per-tool timeouts count as failures only once the replica stops answering ping too', async () => {
      // The replica answers ping: each timeout is the slow call's own error (src/relay/policies/timeout-probe.ts).
      for (let i = 1; i <= 4; i++) {
        const f = await failure(() => call(ctx.client, 'cbt__sleep', { ms: 1000 }));
        assert.equal(f.code, -32011);
        assert.equal(f.mcpegCode, 'MCPEG_ERR_BACKEND_TIMEOUT');
        assert.ok(f.ms >= 90 && f.ms < 800, `timed out after ${f.ms} ms`);
      }
      await new Promise((r) => setTimeout(r, 300)); // the pings' verdicts, had they counted
      assert.equal(breaker('cbt'), 'closed');
      // Stopped, it answers nothing: the ping after the timeouts (1 s, the backend's timeout) gets no answer either.
      ctRep.signal('SIGSTOP');
      try {
        for (let i = 1; i <= 4; i++) {
          const f = await failure(() => call(ctx.client, 'cbt__sleep', { ms: 1000 }));
          assert.equal(f.mcpegCode, 'MCPEG_ERR_BACKEND_TIMEOUT');
          assert.ok(f.ms < 800, `the client has its error at once, not after the ping: ${f.ms} ms`);
        }
        await waitFor(() => breaker('cbt') === 'open', 'the breaker to open (4 failures of 8)', 5000, 20);
        const fast = await failure(() => call(ctx.client, 'cbt__whoami'));
        assert.equal(fast.mcpegCode, 'MCPEG_ERR_CIRCUIT_OPEN');
        assert.ok(fast.ms < 100, `failed fast: ${fast.ms} ms`);
      } finally {
        ctRep.signal('SIGCONT');
      }
      await waitFor(() => breaker('cbt') !== 'open', 'the cool-down to pass', 5000, 20);
      await call(ctx.client, 'cbt__whoami');
      assert.equal(breaker('cbt'), 'closed');
    });
  });

  describe('retries', () => {
    let reps: HttpReplica[];
    before(async () => {
      reps = await startReplicas('R1', 'R2');
    });
    after(async () => {
      await Promise.all(reps?.map((r) => r.kill()) ?? []);
    });
    // No health checks, ejection or breaker: only the calls themselves can find a dead replica.
    const common = () => ({
      type: 'mcp',
      endpoints: endpoints(reps),
      session_mode: 'shared',
      load_balancing: { strategy: 'round_robin' },
      health_check: { enabled: false },
      outlier_detection: { enabled: false },
      circuit_breaker: { enabled: false },
      retries: { attempts: 2, initial_delay: '10ms', max_delay: '50ms' },
      ...FAST,
    });
    const ctx = useGateway(() => ({
      backends: {
        idem: { ...common(), tools: { whoami: { idempotent: true }, sleep: { idempotent: true } } },
        plain: common(),
      },
    }));

    // Each test kills a replica: bring it back (also after a failure) before the next one.
    afterEach(async () => {
      for (const r of reps) if (!r.running) await r.restart();
      await allUp();
    });
    const allUp = () => waitFor(() => ['idem', 'plain'].every((b) => states(ctx.gw, b).every((r) => r.state === 'up' && r.available)), 'both replicas up in both backends', 10_000);
    /** Index of the replica of `backend` with a call in flight. */
    const inflightOn = async (backend: string) => {
      await waitFor(() => states(ctx.gw, backend).some((r) => r.active === 1), `a call in flight on ${backend}`);
      return states(ctx.gw, backend).findIndex((r) => r.active === 1);
    };
    /** Starts `tool` (a 600 ms sleep), waits until it has reached its replica, then kills that replica. */
    async function killMidCall(tool: string) {
      const base = await Promise.all(reps.map((r) => r.received()));
      const t0 = performance.now();
      const pending = call(ctx.client, tool, { ms: 600 });
      pending.catch(() => {});
      const i = await inflightOn(tool.split('__')[0]);
      await waitFor(async () => (await reps[i].received()) > base[i], `the call to reach ${reps[i].id}`);
      await reps[i].kill();
      return { pending, t0, dead: i, live: 1 - i, base };
    }

    it('an idempotent tool whose replica dies mid-call is retried on the other replica', async () => {
      const { pending, dead, live, base } = await killMidCall('idem__sleep');
      const r = await pending;
      assert.equal(r.replica, reps[live].id);
      assert.equal(await reps[live].received(), base[live] + 1, 'the retry reached the live replica once');
      assert.equal(reps[dead].running, false);
    });

    it('a non-idempotent tool whose replica dies mid-call is not retried: the client gets the error', async () => {
      const { pending, t0, live, base } = await killMidCall('plain__sleep');
      const f = await failure(() => pending);
      assert.ok(f.code === -32010 || f.code === -32012, f.message);
      assert.match(f.message, /backend "plain"/);
      assert.ok(performance.now() - t0 < 600, 'failed at the kill, not after a retry had slept');
      assert.equal(await reps[live].received(), base[live], 'no retry reached the other replica');
    });

    it('a call that was never sent (connection refused) is retried elsewhere, idempotent or not', async () => {
      // Line up both balancers so that their next pick is R2, then kill R2 before the gateway can know.
      for (const b of ['idem', 'plain']) {
        await waitFor(async () => (await call(ctx.client, `${b}__echo`, { key: 'align' })).replica === 'R1', `${b} to have just used R1`);
      }
      const base = await reps[0].received();
      await reps[1].kill();
      // Let the gateway's connection pool read the dead replica's FINs on its idle keep-alive sockets
      // (nothing to wait for: a request racing that would be "sent", not refused).
      await pause(50);
      assert.equal((await call(ctx.client, 'idem__whoami')).replica, 'R1');
      assert.equal((await call(ctx.client, 'plain__whoami')).replica, 'R1');
      assert.equal(await reps[0].received(), base + 2, 'one attempt each reached R1');
      // The refused first attempts were made on R2: its failure (not a health check: they are off) took it down.
      await waitFor(() => ['idem', 'plain'].every((b) => states(ctx.gw, b)[1].state === 'down'), 'R2 marked down in both backends');
    });
  });

  describe('bulkhead and per-tool timeouts', () => {
    const ctx = useGateway(() => ({
      backends: {
        bh: { type: 'mcp', url: abc[0].url, session_mode: 'shared', max_inflight: 2, ...FAST, timeout: '60s' },
        pt: { type: 'mcp', url: abc[1].url, tools: { sleep: { timeout: '200ms' } }, ...FAST, timeout: '60s' },
      },
    }));

    it('max_inflight 2: a third concurrent call fails fast with MCPEG_ERR_BACKEND_BUSY', async () => {
      const b = backendOf(ctx.gw, 'bh');
      const base = await abc[0].received();
      const slow = [call(ctx.client, 'bh__sleep', { ms: 800 }), call(ctx.client, 'bh__sleep', { ms: 800 })];
      await waitFor(() => b.inflight === 2, 'two calls in flight');
      const f = await failure(() => call(ctx.client, 'bh__whoami'));
      assert.equal(f.code, -32018);
      assert.equal(f.mcpegCode, 'MCPEG_ERR_BACKEND_BUSY');
      assert.ok(f.ms < 200, `failed fast: ${f.ms} ms`);
      for (const r of await Promise.all(slow)) assert.equal(r.slept, 800);
      assert.equal(b.inflight, 0);
      assert.equal((await call(ctx.client, 'bh__whoami')).replica, 'A', 'free slots admit calls again');
      assert.equal(await abc[0].received(), base + 3, 'the refused call never reached the replica');
    });

    it('a per-tool timeout (200 ms) applies instead of the backend’s (60 s)', async () => {
      const f = await failure(() => call(ctx.client, 'pt__sleep', { ms: 3000 }));
      assert.equal(f.code, -32011);
      assert.equal(f.mcpegCode, 'MCPEG_ERR_BACKEND_TIMEOUT');
      assert.equal(f.data?.timeoutMs, 200);
      assert.ok(f.ms >= 190 && f.ms < 1500, `timed out after ${f.ms} ms`);
      assert.equal((await call(ctx.client, 'pt__sleep', { ms: 20 })).slept, 20);
    });
  });

  describe('active health checks', () => {
    let reps: HttpReplica[];
    before(async () => {
      reps = await startReplicas('P1', 'P2', 'P3');
    });
    after(async () => {
      reps?.[1]?.signal('SIGCONT');
      await Promise.all(reps?.map((r) => r.kill()) ?? []);
    });
    const ctx = useGateway(() => ({
      backends: {
        hc: {
          type: 'mcp',
          endpoints: endpoints(reps),
          session_mode: 'shared',
          load_balancing: { strategy: 'round_robin' },
          health_check: { interval: '200ms', timeout: '150ms', unhealthy_threshold: 2, healthy_threshold: 1 },
          ...FAST,
        },
      },
    }));

    it('a replica that stops answering pings (SIGSTOP) leaves rotation; after SIGCONT it returns', async () => {
      assert.deepEqual(tally(await sequence(ctx.client, 'hc__whoami', 9)), { P1: 3, P2: 3, P3: 3 });
      reps[1].signal('SIGSTOP');
      try {
        await waitFor(() => states(ctx.gw, 'hc')[1].healthy === false, 'P2 unhealthy', 10_000);
        const h = (await healthReplicas(ctx.gw, 'hc'))[1];
        assert.equal(h.healthy, false);
        assert.equal(h.available, false);
        assert.equal(h.state, 'up', 'still connected: only the health checks took it out');
        assert.deepEqual(tally(await sequence(ctx.client, 'hc__whoami', 12)), { P1: 6, P3: 6 });
      } finally {
        reps[1].signal('SIGCONT');
      }
      await waitFor(() => states(ctx.gw, 'hc')[1].healthy, 'P2 healthy again', 10_000);
      assert.ok((await healthReplicas(ctx.gw, 'hc'))[1].available);
      assert.deepEqual(tally(await sequence(ctx.client, 'hc__whoami', 9)), { P1: 3, P2: 3, P3: 3 });
    });
  });

  describe('outlier detection', () => {
    // Calls hashed by argument: `fail` with a key of A's fails on A alone.
    const ctx = useGateway(() => ({
      backends: {
        od: {
          type: 'mcp',
          endpoints: endpoints(abc),
          session_mode: 'shared',
          load_balancing: { strategy: 'hash', hash_key: 'argument:key' },
          outlier_detection: { consecutive_failures: 3, base_ejection_time: '1s', max_ejection_percent: 50 },
          circuit_breaker: { enabled: false },
          retries: { attempts: 0 },
          ...FAST,
        },
      },
    }));

    it('consecutive failures eject a replica for base_ejection_time; max_ejection_percent spares the rest', async () => {
      const keyOf: Record<string, string> = {};
      for (let i = 0; Object.keys(keyOf).length < 3; i++) {
        assert.ok(i < 100, 'keys for every replica');
        const r = await call(ctx.client, 'od__echo', { key: `k${i}` });
        keyOf[r.replica] ??= `k${i}`;
      }
      const st = () => states(ctx.gw, 'od');
      const fail = async (key: string) => assert.equal((await failure(() => call(ctx.client, 'od__fail', { key }))).code, -32010);

      // Consecutive: a success in between starts the count again.
      await fail(keyOf.A);
      await fail(keyOf.A);
      assert.equal((await call(ctx.client, 'od__echo', { key: keyOf.A })).replica, 'A');
      await fail(keyOf.A);
      await fail(keyOf.A);
      assert.equal(st()[0].ejected, false, 'two in a row is not three');
      await fail(keyOf.A);
      assert.equal(st()[0].ejected, true, 'ejected after three in a row');
      assert.equal(st()[0].available, false);

      // A's keys go elsewhere while it is out; the others' stay.
      assert.notEqual((await call(ctx.client, 'od__echo', { key: keyOf.A })).replica, 'A');
      assert.equal((await call(ctx.client, 'od__echo', { key: keyOf.B })).replica, 'B');
      assert.equal((await call(ctx.client, 'od__echo', { key: keyOf.C })).replica, 'C');

      // A second ejection would take 2 of 3 replicas out (67% > 50%): refused.
      for (let i = 0; i < 3; i++) await fail(keyOf.B);
      const aStillOut = backendOf(ctx.gw, 'od').replicas[0].ejectedUntil > Date.now();
      if (aStillOut) assert.equal(st()[1].ejected, false, 'max_ejection_percent keeps B in');

      await waitFor(() => !st()[0].ejected, 'A back after its ejection time', 5000);
      assert.equal((await call(ctx.client, 'od__echo', { key: keyOf.A })).replica, 'A');
    });
  });
});
