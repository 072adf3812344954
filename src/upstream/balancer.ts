/**
 * Replica selection. A balancer only picks: the registry owns the set and says which are
 * available (undici's BalancedPool split); none available → undefined. pick() is on the
 * hot path: no allocation per call (hash allocates only when the set changes).
 */

export interface Candidate {
  id: string;
  weight: number /** in flight */;
  active: number;
  available: boolean;
}

export type Strategy = 'round_robin' | 'least_connections' | 'weighted' | 'hash' | 'random';

export interface Balancer {
  pick(candidates: readonly Candidate[], key?: string): Candidate | undefined;
}

export function createBalancer(strategy: Strategy, opts: { random?: () => number } = {}): Balancer {
  switch (strategy) {
    case 'round_robin':
      return roundRobin();
    case 'least_connections':
      return leastConnections();
    case 'weighted':
      return smoothWeighted();
    case 'hash':
      return consistentHash();
    case 'random':
      return powerOfTwo(opts.random ?? Math.random);
  }
}

/** Next available at or after the cursor, so the rotation survives candidates going down. */
function roundRobin(): Balancer {
  let cursor = 0;
  return {
    pick(cs) {
      const n = cs.length;
      for (let k = 0; k < n; k++) {
        const i = (cursor + k) % n;
        if (cs[i].available) {
          cursor = (i + 1) % n;
          return cs[i];
        }
      }
      return undefined;
    },
  };
}

/** Fewest in flight; the scan starts at a rotating cursor so that ties take turns. */
function leastConnections(): Balancer {
  let cursor = 0;
  return {
    pick(cs) {
      const n = cs.length;
      let best = -1;
      for (let k = 0; k < n; k++) {
        const i = (cursor + k) % n;
        if (cs[i].available && (best < 0 || cs[i].active < cs[best].active)) best = i;
      }
      if (best < 0) return undefined;
      cursor = (best + 1) % n;
      return cs[best];
    },
  };
}

const weightOf = (c: Candidate): number => (c.weight > 0 && Number.isFinite(c.weight) ? c.weight : 0); // ≤ 0, NaN: no share

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_round_robin.c, 2012): each
 * pick adds every weight to its candidate's running score, takes the highest score and
 * subtracts the total from it. Deterministic, exact proportions per cycle, and spread
 * out: 5,1,1 gives a a b a c a a rather than a a a a a b c.
 */
function smoothWeighted(): Balancer {
  const score = new Map<string, number>();
  return {
    pick(cs) {
      let total = 0;
      let best: Candidate | undefined;
      let bestScore = -Infinity;
      for (const c of cs) {
        const w = c.available ? weightOf(c) : 0;
        if (w === 0) continue;
        const s = (score.get(c.id) ?? 0) + w;
        score.set(c.id, s);
        total += w;
        if (s > bestScore) {
          best = c;
          bestScore = s;
        }
      }
      if (best === undefined) return undefined;
      score.set(best.id, bestScore - total);
      // Forget candidates that left the set (rarely: only once the map has doubled).
      if (score.size > 2 * cs.length) for (const id of score.keys()) if (!cs.some((c) => c.id === id)) score.delete(id);
      return best;
    },
  };
}

/** Points per unit of weight: libketama's 160 per server (a share's spread falls as 1/√points). */
export const VNODES_PER_WEIGHT = 160;

interface Ring {
  ids: string[];
  weights: number[];
  points: Uint32Array;
  owners: Uint32Array;
}

/**
 * Consistent hashing (Karger et al., STOC 1997) on a ring of virtual nodes, as in
 * libketama: a key belongs to the first point clockwise of its hash. A point's place
 * depends only on its candidate's id, so removing a candidate moves only its own keys,
 * and an unavailable owner hands its keys to the next available point clockwise, which is
 * where they would go if it were removed (while the weights total at most
 * MAX_RING_POINTS / VNODES_PER_WEIGHT; above, every share is scaled to that bound, so a
 * change of the total moves some other keys too). The ring is rebuilt only when ids or
 * weights change. Without a key, round robin.
 */
function consistentHash(): Balancer {
  const fallback = roundRobin();
  let ring: Ring | undefined;
  return {
    pick(cs, key) {
      if (key === undefined) return fallback.pick(cs);
      if (ring === undefined || !sameSet(ring, cs)) ring = buildRing(cs);
      const { points, owners } = ring;
      const n = points.length;
      const h = murmur3(key, 0);
      let lo = 0;
      let hi = n; // first point ≥ h; n wraps to 0
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (points[mid] < h) lo = mid + 1;
        else hi = mid;
      }
      for (let k = 0; k < n; k++) {
        const c = cs[owners[(lo + k) % n]];
        if (c.available) return c;
      }
      return fallback.pick(cs); // none available, or only weightless ones (an empty ring)
    },
  };
}

function sameSet(r: Ring, cs: readonly Candidate[]): boolean {
  if (r.ids.length !== cs.length) return false;
  for (let i = 0; i < cs.length; i++) if (r.ids[i] !== cs[i].id || r.weights[i] !== cs[i].weight) return false;
  return true;
}

/**
 * Points on one ring at most. Weights come from DNS SRV records (up to 65535) and other
 * sources: unscaled, one such replica alone would be 10 million points, minutes of sorting
 * and gigabytes of heap on the event loop.
 */
export const MAX_RING_POINTS = 65_536;

function buildRing(cs: readonly Candidate[]): Ring {
  const entries: { point: number; owner: number }[] = [];
  let total = 0;
  for (const c of cs) total += weightOf(c);
  // Over the bound, every share is scaled alike (libketama sizes a server's points by weight / total, too); a weighted candidate keeps one point at least.
  const scale = Math.min(1, MAX_RING_POINTS / (total * VNODES_PER_WEIGHT));
  cs.forEach((c, owner) => {
    const w = weightOf(c);
    const count = w === 0 ? 0 : Math.max(1, Math.round(w * VNODES_PER_WEIGHT * scale));
    // Point i of a candidate is murmur3(id, seed i): the same place whoever else is on the ring.
    for (let i = 0; i < count; i++) entries.push({ point: murmur3(c.id, i), owner });
  });
  // Ties (32-bit collisions) go by id, so the ring does not depend on the candidates' order.
  entries.sort((a, b) => a.point - b.point || (cs[a.owner].id < cs[b.owner].id ? -1 : 1));
  const points = Uint32Array.from(entries, (e) => e.point);
  return { ids: cs.map((c) => c.id), weights: cs.map((c) => c.weight), points, owners: Uint32Array.from(entries, (e) => e.owner) };
}

/**
 * MurmurHash3 x86_32 (Austin Appleby, SMHasher, public domain) over the string's UTF-16
 * code units, two per 32-bit block: fast in JS (Math.imul, no encoding, no allocation)
 * and passes SMHasher's distribution and avalanche tests, which FNV-1a alone does not.
 */
export function murmur3(s: string, seed: number): number {
  let h = seed >>> 0;
  const len = s.length;
  for (let i = 0; i + 1 < len; i += 2) {
    h ^= mixK(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (len & 1) h ^= mixK(s.charCodeAt(len - 1));
  h ^= len * 2; // the length in bytes: the reference hashes bytes
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b); // fmix32
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function mixK(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  return Math.imul((k << 15) | (k >>> 17), 0x1b873593);
}

/**
 * Power of two choices (Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001): of two distinct available candidates drawn at random, the one with
 * fewer in flight. Exponentially lower worst load than one random choice, and no herd on
 * one idle replica. Weights unused (Envoy's least_request does P2C only for equal weights).
 */
function powerOfTwo(random: () => number): Balancer {
  const draw = (m: number): number => Math.min(m - 1, Math.floor(random() * m));
  return {
    pick(cs) {
      let m = 0;
      for (const c of cs) if (c.available) m++;
      if (m === 0) return undefined;
      const a = draw(m);
      const b = m > 1 ? (a + 1 + draw(m - 1)) % m : a; // uniform over the others
      let x = cs[0];
      let y = cs[0];
      for (let i = 0, j = 0; i < cs.length; i++) {
        if (!cs[i].available) continue;
        if (j === a) x = cs[i];
        if (j === b) y = cs[i];
        j++;
      }
      return y.active < x.active ? y : x;
    },
  };
}
