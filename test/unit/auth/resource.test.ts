/**
 * The pure parts of authentication: each endpoint's canonical resource (RFC 8707), the
 * metadata URL (RFC 9728 §3.1), the challenge (RFC 6750 §3), principals from claims, and
 * the bounded token cache.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { challengeHeader } from '../../../src/auth/challenge.js';
import { principalFromClaims } from '../../../src/auth/claims.js';
import { endpointResource, metadataUrl } from '../../../src/auth/resource.js';
import { TokenCache } from '../../../src/auth/token-cache.js';
import { ANONYMOUS } from '../../../src/auth/principal.js';

describe('auth: resources, challenges, claims, cache', () => {
  it('maps each endpoint path to its resource, one spelling per backend name', () => {
    assert.deepEqual(endpointResource('/mcp', '/mcp'), { path: '/mcp', alsoAccepts: undefined });
    assert.deepEqual(endpointResource('/sse', '/mcp'), { path: '/sse', alsoAccepts: '/mcp' });
    assert.deepEqual(endpointResource('/messages', '/mcp'), { path: '/sse', alsoAccepts: '/mcp' });
    assert.deepEqual(endpointResource('/servers/gh/mcp', '/mcp'), { path: '/servers/gh/mcp', alsoAccepts: undefined });
    assert.deepEqual(endpointResource('/servers/g%68/mcp', '/mcp'), { path: '/servers/gh/mcp', alsoAccepts: undefined });
    assert.deepEqual(endpointResource('/servers/gh/messages', '/mcp'), { path: '/servers/gh/sse', alsoAccepts: '/servers/gh/mcp' });
    assert.equal(endpointResource('/servers/%E0%A4%A/mcp', '/mcp'), undefined);
    assert.equal(endpointResource('/health', '/mcp'), undefined);
    assert.equal(metadataUrl('https://gw.example', '/mcp'), 'https://gw.example/.well-known/oauth-protected-resource/mcp');
    assert.equal(metadataUrl('https://gw.example/prefix', '/servers/a/mcp'), 'https://gw.example/.well-known/oauth-protected-resource/prefix/servers/a/mcp');
  });

  it('builds RFC 6750 challenges, keeping error_description quotable', () => {
    assert.equal(challengeHeader({ resourceMetadata: undefined, scope: undefined }), 'Bearer realm="mcpeg"');
    assert.equal(challengeHeader({ resourceMetadata: 'https://m', scope: 'a b' }), 'Bearer scope="a b", resource_metadata="https://m"');
    assert.equal(
      challengeHeader({ resourceMetadata: 'https://m', scope: undefined, error: 'invalid_token', description: 'bad "x"\\\n' }),
      'Bearer error="invalid_token", error_description="bad ?x???", resource_metadata="https://m"',
    );
  });

  it('reads principals from claims: scope or scp, nested groups, own properties only', () => {
    const p = principalFromClaims({ sub: 'u1', azp: 'app', scp: ['a', 'b'], realm_access: { roles: ['admin'] }, exp: 2e9 }, 'https://iss', 'realm_access.roles', 'tok')!;
    assert.equal(p.id, 'oauth:https://iss#u1');
    assert.equal(p.clientId, 'app');
    assert.deepEqual(p.scopes, ['a', 'b']);
    assert.deepEqual(p.groups, ['admin']);
    assert.equal(p.expiresAt, 2e12);
    assert.equal(p.accessToken(), 'tok');
    assert.ok(!JSON.stringify(p).includes('tok'), 'the token is not in the serialized principal');
    assert.deepEqual(principalFromClaims({ sub: 'u', scope: 'x y', 'https://e.com/groups': 'g1 g2' }, 'i', 'https://e.com/groups', 't')!.groups, ['g1', 'g2']);
    assert.deepEqual(principalFromClaims({ sub: 'u' }, 'i', 'constructor.name', 't')!.groups, []);
    assert.deepEqual(principalFromClaims({ sub: 'u' }, 'i', '__proto__', 't')!.groups, []);
    assert.equal(principalFromClaims({ client_id: 'machine' }, 'i', 'groups', 't')!.id, 'oauth:i#machine');
    assert.equal(principalFromClaims({ scope: 'x' }, 'i', 'groups', 't'), undefined);
  });

  it('caches for at most its TTL and the token lifetime, and stays bounded', () => {
    let now = 1000;
    const c = new TokenCache(2, 60_000, () => now);
    const p = { ...ANONYMOUS, expiresAt: 31_000 };
    c.set('a', p);
    now = 30_999;
    assert.equal(c.get('a'), p);
    now = 31_000;
    assert.equal(c.get('a'), undefined, 'not past exp');
    c.set('expired', p);
    assert.equal(c.size, 0);
    c.set('x', ANONYMOUS);
    c.set('y', ANONYMOUS);
    c.set('z', ANONYMOUS);
    assert.equal(c.size, 2);
    assert.equal(c.get('x'), undefined, 'the oldest went');
    now += 60_000;
    assert.equal(c.get('z'), undefined, 'not past the TTL');
  });
});
