/** RateLimiter rules and keys, and client IP resolution (X-Forwarded-For, trusted proxies). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimitsSchema } from '../../../src/config/traffic.js';
import { ClientIpResolver, normalizeIp } from '../../../src/edge/client-ip.js';
import { apiKeyFromHeaders, hashApiKey, RateLimiter, type MaybeDecision, type RateLimitDecision } from '../../../src/resilience/rate-limiter.js';
import { MemoryRateLimitStore, type RateLimitStore } from '../../../src/resilience/rate-limit-store.js';

const limiter = (raw: unknown, now = () => 0, store?: RateLimitStore) => new RateLimiter(rateLimitsSchema.parse(raw), { now, store });
/** A decision of the in-memory store, which answers at once. */
function sync(d: MaybeDecision): RateLimitDecision | undefined {
  assert.ok(!(d instanceof Promise), 'the in-memory store answers at once');
  return d;
}
const http = (clientIp: string, headers: Record<string, string> = {}) => ({ clientIp, req: { headers } });

describe('client IP', () => {
  it('normalizes addresses: brackets, ports, zones, IPv4-mapped IPv6', () => {
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(normalizeIp('10.1.2.3:5555'), '10.1.2.3');
    assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1');
    assert.equal(normalizeIp(' 192.0.2.7 '), '192.0.2.7');
    assert.equal(normalizeIp('unknown'), undefined);
    assert.equal(normalizeIp('1.2.3.4.5'), undefined);
  });

  it('ignores X-Forwarded-For by default (a spoofed header changes nothing)', () => {
    const r = new ClientIpResolver([]);
    assert.equal(r.resolve('::ffff:127.0.0.1', '203.0.113.9'), '127.0.0.1');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    const r = new ClientIpResolver(['10.0.0.0/8']);
    assert.equal(r.resolve('198.51.100.4', '203.0.113.9'), '198.51.100.4');
  });

  it('honors it from a trusted proxy: the right-most untrusted hop, not the left-most', () => {
    const r = new ClientIpResolver(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    assert.equal(r.resolve('127.0.0.1', '203.0.113.9'), '203.0.113.9');
    // The client wrote "6.6.6.6" itself; our proxies (10.x) appended what they saw.
    assert.equal(r.resolve('10.0.0.2', '6.6.6.6, 198.51.100.4, 10.0.0.1'), '198.51.100.4');
    assert.equal(r.resolve('fd00::2', ['6.6.6.6', '2001:db8::7, fd00::1']), '2001:db8::7');
    assert.equal(r.resolve('10.0.0.2', '10.0.0.5, 10.0.0.1'), '10.0.0.5', 'all hops trusted: the left-most');
    assert.equal(r.resolve('10.0.0.2', 'garbage, 10.0.0.1'), '10.0.0.1', 'an invalid hop stops at the nearest trusted one');
    assert.equal(r.resolve('10.0.0.2', undefined), '10.0.0.2');
  });

  it('rejects invalid trusted_proxies entries with the index', () => {
    assert.throws(() => new ClientIpResolver(['10.0.0.1', 'proxy.local']), /trusted_proxies\[1\].*proxy\.local/);
    assert.throws(() => new ClientIpResolver(['10.0.0.0/33']), /trusted_proxies\[0\]/);
  });
});

describe('API keys', () => {
  it('reads the configured header, else Authorization: Bearer', () => {
    assert.equal(apiKeyFromHeaders({ 'x-api-key': 'k1', authorization: 'Bearer k2' }, 'x-api-key'), 'k1');
    assert.equal(apiKeyFromHeaders({ authorization: 'bearer k2' }, 'x-api-key'), 'k2');
    assert.equal(apiKeyFromHeaders({ authorization: 'Basic abc' }, 'x-api-key'), undefined);
  });

  it('buckets by a hash, never the key itself', async () => {
    const seen: string[] = [];
    const store: RateLimitStore = { take: (key) => (seen.push(key), { allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 0 }) };
    const l = limiter({ rules: [{ scope: 'gateway', key: 'api_key', rate: 1, burst: 2 }] }, () => 0, store);
    await l.checkHttp(http('1.1.1.1', { authorization: 'Bearer sk-very-secret' }));
    assert.equal(seen.length, 1);
    assert.ok(!seen[0].includes('sk-very-secret'));
    assert.ok(seen[0].includes(hashApiKey('sk-very-secret')));
    assert.notEqual(hashApiKey('a'), hashApiKey('b'));
  });

  it('the header and the Bearer form of one key share a bucket; another key has its own', async () => {
    const l = limiter({ api_key_header: 'X-Key', rules: [{ scope: 'gateway', key: 'api_key', rate: 0.001, burst: 1 }] });
    assert.equal((await l.checkHttp(http('1.1.1.1', { 'x-key': 'A' })))?.allowed, true);
    assert.equal((await l.checkHttp(http('2.2.2.2', { authorization: 'Bearer A' })))?.allowed, false);
    assert.equal((await l.checkHttp(http('1.1.1.1', { 'x-key': 'B' })))?.allowed, true);
  });
});

describe('RateLimiter rules', () => {
  it('a config without rules decides nothing', async () => {
    const l = limiter({});
    assert.equal(l.hasGatewayRules || l.hasBackendRules || l.hasToolRules, false);
    assert.equal(await l.checkHttp(http('1.1.1.1')), undefined);
    assert.equal(sync(l.check('tool', 'x__y', { ip: '1.1.1.1' })), undefined);
  });

  it('gateway rules key by IP: one IP runs out, another does not', async () => {
    let t = 0;
    const l = limiter({ rules: [{ scope: 'gateway', rate: 1, burst: 2 }] }, () => t);
    assert.deepEqual(
      [await l.checkHttp(http('1.1.1.1')), await l.checkHttp(http('1.1.1.1'))].map((d) => d?.remaining),
      [1, 0],
    );
    const refused = await l.checkHttp(http('1.1.1.1'));
    assert.equal(refused?.allowed, false);
    assert.equal(refused?.limit, 2);
    assert.equal(refused?.retryAfterMs, 1000);
    assert.match(refused!.rule, /rate_limits\.rules\[0\] \(gateway, key ip, 1\/s, burst 2\)/);
    assert.equal((await l.checkHttp(http('2.2.2.2')))?.allowed, true);
    t = 1000;
    assert.equal((await l.checkHttp(http('1.1.1.1')))?.allowed, true);
  });

  it('global rules share one bucket; the tightest rule is reported and the first refusal decides', async () => {
    const l = limiter({
      rules: [
        { scope: 'gateway', key: 'ip', rate: 1, burst: 10 },
        { scope: 'gateway', key: 'global', rate: 1, burst: 2 },
      ],
    });
    assert.equal((await l.checkHttp(http('1.1.1.1')))?.limit, 2);
    await l.checkHttp(http('2.2.2.2'));
    const d = await l.checkHttp(http('3.3.3.3'));
    assert.equal(d?.allowed, false);
    assert.match(d!.rule, /rules\[1\].*key global/);
  });

  it("tool rules: '*' gives each tool its own bucket; an exact match only its tool", () => {
    const l = limiter({
      rules: [
        { scope: 'tool', match: '*', key: 'session', rate: 1, burst: 1 },
        { scope: 'tool', match: 'git__push', key: 'global', rate: 1, burst: 1 },
      ],
    });
    assert.equal(l.hasToolRules && !l.hasBackendRules, true);
    assert.equal(sync(l.check('tool', 'a__x', { session: 's1' }))?.allowed, true);
    assert.equal(sync(l.check('tool', 'a__y', { session: 's1' }))?.allowed, true, 'another tool, another bucket');
    assert.equal(sync(l.check('tool', 'a__x', { session: 's2' }))?.allowed, true, 'another session, another bucket');
    const again = sync(l.check('tool', 'a__x', { session: 's1' }));
    assert.equal(again?.allowed, false);
    assert.match(again!.rule, /rules\[0\] \(tool "\*", key session/);
    assert.equal(sync(l.check('tool', 'git__push', { session: 's3' }))?.allowed, true);
    const pushed = sync(l.check('tool', 'git__push', { session: 's4' }));
    assert.equal(pushed?.allowed, false, 'the exact global rule is shared by all sessions');
    assert.match(pushed!.rule, /rules\[1\]/);
    assert.equal(sync(l.check('backend', 'a', { session: 's1' })), undefined, 'no backend rules');
  });

  it('with a store that answers asynchronously (shared), backend and tool rules take from it too: in order, the first refusal decides', async () => {
    const mem = new MemoryRateLimitStore();
    const taken: string[] = [];
    const shared: RateLimitStore = {
      take: async (key, rate, burst, now, cost) => {
        taken.push(key);
        await new Promise((r) => setImmediate(r));
        return mem.take(key, rate, burst, now, cost);
      },
    };
    const l = limiter(
      {
        rules: [
          { scope: 'tool', match: '*', key: 'session', rate: 1, burst: 3 },
          { scope: 'tool', match: 'a__x', key: 'global', rate: 1, burst: 1 },
        ],
      },
      () => 0,
      shared,
    );
    const first = l.check('tool', 'a__x', { session: 's1' });
    assert.ok(first instanceof Promise, 'a shared store is asked, not the memory of this instance');
    const d1 = await first;
    assert.deepEqual([d1?.allowed, d1?.remaining, d1?.rule.includes('rules[1]')], [true, 0, true], 'the tightest of the two is reported');
    assert.deepEqual(taken, ['1\0a__x\0', '0\0a__x\0s:s1'], 'the exact rule first, then the one for every tool');
    const d2 = await l.check('tool', 'a__x', { session: 's2' });
    assert.equal(d2?.allowed, false);
    assert.match(d2!.rule, /rules\[1\]/);
    assert.equal(taken.length, 3, 'after a refusal no other bucket is taken from');
  });

  it('backend rules match by name; other backends are not limited', () => {
    const l = limiter({ rules: [{ scope: 'backend', match: 'slow', key: 'ip', rate: 1, burst: 1 }] });
    assert.equal(sync(l.check('backend', 'fast', { ip: '1.1.1.1' })), undefined);
    assert.equal(sync(l.check('backend', 'slow', { ip: '1.1.1.1' }))?.allowed, true);
    assert.equal(sync(l.check('backend', 'slow', { ip: '1.1.1.1' }))?.allowed, false);
    assert.equal(sync(l.check('backend', 'slow', { ip: '2.2.2.2' }))?.allowed, true);
  });

  it('a caller without the key a rule needs shares a bucket with its IP', () => {
    const l = limiter({ rules: [{ scope: 'backend', key: 'api_key', rate: 1, burst: 1 }] });
    assert.equal(sync(l.check('backend', 'b', { ip: '1.1.1.1' }))?.allowed, true);
    assert.equal(sync(l.check('backend', 'b', { ip: '1.1.1.1' }))?.allowed, false);
    assert.equal(sync(l.check('backend', 'b', { ip: '1.1.1.1', apiKey: 'k' }))?.allowed, true);
  });

  it('rejects a session- or principal-keyed gateway rule in config', () => {
    for (const key of ['session', 'principal']) {
      assert.throws(() => rateLimitsSchema.parse({ rules: [{ scope: 'gateway', key, rate: 1, burst: 1 }] }), /before any session or principal exists/);
    }
  });

  it("principal key: a bucket per principal; the anonymous principal (or none) shares its address's bucket", () => {
    const l = limiter({ rules: [{ scope: 'tool', key: 'principal', rate: 0.001, burst: 1 }] });
    assert.equal(sync(l.check('tool', 't', { ip: '1.1.1.1', principal: 'key:a' }))?.allowed, true);
    assert.equal(sync(l.check('tool', 't', { ip: '2.2.2.2', principal: 'key:a' }))?.allowed, false, 'same principal, another address');
    assert.equal(sync(l.check('tool', 't', { ip: '1.1.1.1', principal: 'key:b' }))?.allowed, true, 'another principal, same address');
    assert.equal(sync(l.check('tool', 't', { ip: '1.1.1.1', principal: 'anonymous' }))?.allowed, true);
    assert.equal(sync(l.check('tool', 't', { ip: '1.1.1.1' }))?.allowed, false, 'anonymous and no principal: the address');
  });
});
