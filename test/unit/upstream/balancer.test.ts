import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBalancer, murmur3, type Candidate, type Strategy } from '../../../src/upstream/balancer.js';

const STRATEGIES: Strategy[] = ['round_robin', 'least_connections', 'weighted', 'hash', 'random'];

const make = (weights: number[], ids = weights.map((_, i) => `mcp#${i}`)): Candidate[] => weights.map((weight, i) => ({ id: ids[i], weight, active: 0, available: true }));

/** mulberry32: a small seeded PRNG, so that the random strategy's tests are reproducible. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tally(n: number, pick: (i: number) => Candidate | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0, id = ''; i < n; i++) counts.set((id = pick(i)!.id), (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('balancer: every strategy', () => {
  for (const s of STRATEGIES) {
    it(`${s}: undefined with no candidates or none available; only available ones otherwise`, () => {
      const b = createBalancer(s, { random: seeded(1) });
      assert.equal(b.pick([], 'k'), undefined);
      const cs = make([1, 2, 3]);
      for (const c of cs) c.available = false;
      assert.equal(b.pick(cs, 'k'), undefined);
      const rnd = seeded(2);
      for (let i = 0; i < 2_000; i++) {
        for (const c of cs) c.available = rnd() < 0.5;
        const got = b.pick(cs, `key-${i}`);
        if (cs.some((c) => c.available)) assert.equal(got?.available, true);
        else assert.equal(got, undefined);
      }
    });
  }
});

describe('balancer: round_robin', () => {
  it('rotates evenly: 30 000 picks over 3 give exactly 10 000 each', () => {
    const b = createBalancer('round_robin'),
      cs = make([1, 1, 1]);
    assert.deepEqual(
      [0, 1, 2, 3].map(() => b.pick(cs)!.id),
      ['mcp#0', 'mcp#1', 'mcp#2', 'mcp#0'],
    );
    assert.deepEqual([...tally(30_000, () => b.pick(cs)).values()], [10_000, 10_000, 10_000]);
  });

  it('keeps its place when a candidate goes down and comes back', () => {
    const b = createBalancer('round_robin'),
      cs = make([1, 1, 1]);
    const ids = (n: number) => Array.from({ length: n }, () => b.pick(cs)!.id.slice(4));
    assert.deepEqual(ids(1), ['0']);
    cs[1].available = false;
    assert.deepEqual(ids(3), ['2', '0', '2']);
    cs[1].available = true;
    assert.deepEqual(ids(3), ['0', '1', '2']);
    assert.deepEqual(ids(2), ['0', '1']);
    assert.equal(b.pick(cs.slice(0, 1))!.id, 'mcp#0'); // a shrunk set: the cursor wraps
  });
});

describe('balancer: least_connections', () => {
  it('chooses the candidate with the fewest in flight', () => {
    const b = createBalancer('least_connections'),
      cs = make([1, 1, 1]);
    [cs[0].active, cs[1].active, cs[2].active] = [3, 1, 2];
    assert.equal(b.pick(cs)!.id, 'mcp#1');
    cs[1].available = false;
    assert.equal(b.pick(cs)!.id, 'mcp#2');
  });

  it('spreads ties round-robin rather than always taking the first', () => {
    const b = createBalancer('least_connections'),
      cs = make([1, 1, 1]);
    cs[2].active = 5;
    assert.deepEqual(Object.fromEntries(tally(30_000, () => b.pick(cs))), { 'mcp#0': 15_000, 'mcp#1': 15_000 });
  });

  it('keeps in-flight counts level when calls start on the pick and end at random', () => {
    const b = createBalancer('least_connections'),
      cs = make([1, 1, 1, 1]);
    const rnd = seeded(3);
    for (let i = 0; i < 30_000; i++) {
      b.pick(cs)!.active++;
      const c = cs[Math.floor(rnd() * cs.length)];
      if (c.active > 0) c.active--;
      const actives = cs.map((x) => x.active);
      assert.ok(Math.max(...actives) - Math.min(...actives) <= 1, `step ${i}: ${actives}`);
    }
  });
});

describe('balancer: weighted (smooth weighted round-robin)', () => {
  it('interleaves 5,1,1 as a a b a c a a, cycle after cycle', () => {
    const b = createBalancer('weighted'),
      cs = make([5, 1, 1], ['a', 'b', 'c']);
    const seq = Array.from({ length: 21 }, () => b.pick(cs)!.id).join('');
    assert.equal(seq, 'aabacaa'.repeat(3));
  });

  it('gives exact proportions: weights 3,2,1 over 30 000 picks', () => {
    const b = createBalancer('weighted'),
      cs = make([3, 2, 1]);
    assert.deepEqual(Object.fromEntries(tally(30_000, () => b.pick(cs))), { 'mcp#0': 15_000, 'mcp#1': 10_000, 'mcp#2': 5_000 });
  });

  it('is smooth: no candidate is ever a whole pick ahead of or behind its share', () => {
    const b = createBalancer('weighted'),
      cs = make([5, 3, 1, 7]);
    const counts = [0, 0, 0, 0];
    for (let t = 1; t <= 30_000; t++) {
      counts[cs.indexOf(b.pick(cs)!)]++;
      cs.forEach((c, i) => assert.ok(Math.abs(counts[i] - (t * c.weight) / 16) < 1, `pick ${t}, ${c.id}: ${counts[i]}`));
    }
  });

  it('shares among the available ones only, and follows weight changes', () => {
    const b = createBalancer('weighted'),
      cs = make([5, 1, 1], ['a', 'b', 'c']);
    cs[0].available = false;
    assert.equal(Array.from({ length: 6 }, () => b.pick(cs)!.id).join(''), 'bcbcbc');
    cs[0].available = true;
    cs[0].weight = 1;
    assert.deepEqual([...tally(3_000, () => b.pick(cs)).values()], [1_000, 1_000, 1_000]);
  });
});

describe('balancer: random (power of two choices)', () => {
  it('spreads evenly when loads are equal', () => {
    const b = createBalancer('random', { random: seeded(42) }),
      cs = make([1, 1, 1]);
    for (const n of tally(30_000, () => b.pick(cs)).values()) assert.ok(Math.abs(n / 30_000 - 1 / 3) < 0.02, `${n}`);
  });

  it('prefers the less loaded of two distinct candidates', () => {
    const b = createBalancer('random', { random: seeded(7) }),
      two = make([1, 1]);
    two[0].active = 1;
    for (let i = 0; i < 1_000; i++) assert.equal(b.pick(two)!.id, 'mcp#1'); // both are always drawn
    const cs = make([1, 1, 1, 1]);
    cs.forEach((c, i) => (c.active = i)); // loads 0,1,2,3
    const share = tally(30_000, () => b.pick(cs));
    // The least loaded wins whenever drawn (1/2 of pairs), the next 2 of 6 pairs, then 1 of 6, the busiest never.
    [0.5, 1 / 3, 1 / 6].forEach((p, i) => assert.ok(Math.abs(share.get(`mcp#${i}`)! / 30_000 - p) < 0.02, `mcp#${i}`));
    assert.equal(share.get('mcp#3'), undefined);
  });

  it('copes with random() at the ends of its range', () => {
    for (const r of [0, 1 - Number.EPSILON / 2, 1])
      assert.ok(
        createBalancer('random', { random: () => r })
          .pick(make([1, 1, 1]))
          ?.id.startsWith('mcp#'),
      );
  });
});

describe('balancer: hash (consistent hashing)', () => {
  const KEYS = Array.from({ length: 10_000 }, (_, i) => `session-${i}`);
  const owners = (b: ReturnType<typeof createBalancer>, cs: Candidate[]) => KEYS.map((k) => b.pick(cs, k)!.id);

  it('implements MurmurHash3 x86_32 (reference vectors, strings as UTF-16LE)', () => {
    // Published vectors for the byte strings (none), 21 43, 21 43 65 87 and 00 00 00 00.
    const vectors: [string, number, number][] = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['\u4321', 0, 0xa0f7b07a],
      ['\u4321\u8765', 0, 0xf55b516b],
      ['\0\0', 0, 0x2362f9de],
    ];
    for (const [str, seed, hash] of vectors) assert.equal(murmur3(str, seed), hash, JSON.stringify(str));
  });

  it('maps the same key to the same candidate, whatever the instance or the order', () => {
    const cs = make([1, 1, 1]);
    const first = owners(createBalancer('hash'), cs);
    assert.deepEqual(owners(createBalancer('hash'), cs), first);
    assert.deepEqual(owners(createBalancer('hash'), [...cs].reverse()), first);
    const shares = [...tally(KEYS.length, (i) => cs.find((c) => c.id === first[i])).values()].map((n) => n / KEYS.length);
    for (const share of shares) assert.ok(Math.abs(share - 1 / 3) < 0.05, `${shares}`);
  });

  it("moves only the removed candidate's keys (≈ 1/N of them), and restores them when it returns", () => {
    const b = createBalancer('hash'),
      cs = make([1, 1, 1]);
    const before = owners(b, cs);
    const after = owners(b, [cs[0], cs[2]]);
    let moved = 0;
    before.forEach((id, i) => (id === 'mcp#1' ? moved++ : assert.equal(after[i], id, KEYS[i])));
    assert.ok(Math.abs(moved / KEYS.length - 1 / 3) < 0.05, `moved ${moved / KEYS.length}`);
    assert.deepEqual(owners(b, cs), before);
  });

  it("sends an unavailable owner's keys to its ring successor, exactly as if it were removed", () => {
    const b = createBalancer('hash'),
      cs = make([1, 1, 1]);
    const removed = owners(createBalancer('hash'), [cs[0], cs[2]]);
    cs[1].available = false;
    assert.deepEqual(owners(b, cs), removed);
    cs[1].available = true;
    assert.deepEqual(owners(b, cs), owners(createBalancer('hash'), cs));
  });

  it('gives owners a share proportional to weight; a heavier weight only takes keys', () => {
    const b = createBalancer('hash'),
      cs = make([1, 1, 1]);
    const before = owners(b, cs);
    cs[2].weight = 2; // in place: the ring must notice
    const after = owners(b, cs);
    after.forEach((id, i) => assert.ok(id === before[i] || id === 'mcp#2', KEYS[i]));
    const share = tally(KEYS.length, (i) => cs.find((c) => c.id === after[i]));
    [0.25, 0.25, 0.5].forEach((p, i) => assert.ok(Math.abs(share.get(`mcp#${i}`)! / KEYS.length - p) < 0.05, `mcp#${i}`));
  });

  it("weights up to 65535 (an SRV record's): the ring is built at once, with shares still proportional (hostile DNS weights)", () => {
    const cs = make([65535, 65535, 32767, 1]);
    const t0 = performance.now();
    const got = owners(createBalancer('hash'), cs);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    const share = tally(KEYS.length, (i) => cs.find((c) => c.id === got[i]));
    [0.4, 0.4, 0.2].forEach((p, i) => assert.ok(Math.abs(share.get(`mcp#${i}`)! / KEYS.length - p) < 0.05, `mcp#${i}: ${share.get(`mcp#${i}`)}`));
  });

  it('falls back to round robin without a key', () => {
    const b = createBalancer('hash'),
      cs = make([1, 1, 1]);
    assert.deepEqual(
      [0, 1, 2, 3].map(() => b.pick(cs)!.id),
      ['mcp#0', 'mcp#1', 'mcp#2', 'mcp#0'],
    );
  });
});
