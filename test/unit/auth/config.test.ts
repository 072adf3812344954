/**
 * The `auth` config section: what it refuses (naming the key), what the admin API redacts
 * and the logger scrubs (the keys, their digests, the introspection secret; not names,
 * groups or scopes), and the refusal to serve a non-loopback address unauthenticated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { hideSecrets } from '../../../src/config/secret-fields.js';
import { configSecrets } from '../../../src/observability/secrets.js';

const refuse = (raw: Record<string, unknown>, re: RegExp) =>
  assert.throws(
    () => validateConfig(raw, 't'),
    (e: Error & { details?: string[] }) => re.test([e.message, ...(e.details ?? [])].join('\n')),
  );

describe('auth config', () => {
  it('refuses bad entries, naming the key', () => {
    refuse({ auth: { api_keys: [{ name: 'a' }] } }, /auth\.api_keys\.0.*exactly one/);
    refuse({ auth: { api_keys: [{ name: 'a', key: 'k'.repeat(20), sha256: 'a'.repeat(64) }] } }, /exactly one/);
    refuse({ auth: { api_keys: [{ name: 'a', key: 'short' }] } }, /auth\.api_keys\.0\.key.*16 characters/);
    refuse({ auth: { api_keys: [{ name: 'a', sha256: 'xyz' }] } }, /auth\.api_keys\.0\.sha256/);
    refuse(
      {
        auth: {
          api_keys: [
            { name: 'a', sha256: 'a'.repeat(64) },
            { name: 'a', sha256: 'b'.repeat(64) },
          ],
        },
      },
      /auth\.api_keys\.1\.name.*unique/,
    );
    refuse({ auth: { oauth: { issuer: 'https://as.example' } } }, /auth\.resource.*public base URL/);
    refuse({ auth: { resource: 'http://gw.example', oauth: { issuer: 'https://as.example' } } }, /auth\.resource.*https/);
    refuse({ auth: { resource: 'https://gw.example', oauth: { issuer: 'https://as.example', algorithms: ['HS256'] } } }, /auth\.oauth\.algorithms/);
    refuse({ auth: { resource: 'https://gw.example', oauth: { issuer: 'https://as.example', algorithms: ['none'] } } }, /auth\.oauth\.algorithms/);
    refuse({ auth: { resource: 'https://gw.example', oauth: { issuer: 'https://as.example', required_scopes: ['a b'] } } }, /required_scopes/);
  });

  it('refuses a non-loopback server.host without authentication, unless allowed explicitly', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'gateway.internal']) refuse({ server: { host } }, /server\.host.*no authentication.*allow_unauthenticated/);
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) assert.equal(validateConfig({ server: { host } }, 't').server.host, host);
    assert.equal(validateConfig({ server: { host: '0.0.0.0' }, auth: { allow_unauthenticated: true } }, 't').auth.allow_unauthenticated, true);
    validateConfig({ server: { host: '0.0.0.0' }, auth: { api_keys: [{ name: 'ci', sha256: 'a'.repeat(64) }] } }, 't');
    validateConfig({ server: { host: '0.0.0.0' }, auth: { resource: 'https://gw.example/', oauth: { issuer: 'https://as.example' } } }, 't');
  });

  it('keeps a trailing-slash-free resource base', () => {
    const c = validateConfig({ auth: { resource: 'https://gw.example/prefix/', oauth: { issuer: 'https://as.example' } } }, 't');
    assert.equal(c.auth.resource, 'https://gw.example/prefix');
  });

  it('redacts keys, digests and the introspection secret; shows names, groups and scopes', () => {
    const key = 'live-key-0123456789abcdef';
    const c = validateConfig(
      {
        auth: {
          resource: 'https://gw.example',
          oauth: { issuer: 'https://as.example', introspection: { endpoint: 'https://as.example/introspect', client_id: 'gateway', client_secret: 'intro-secret-xyz' } },
          api_keys: [
            { name: 'ci-bot', key, groups: ['builders'], scopes: ['tools.read'] },
            { name: 'nightly', sha256: 'c'.repeat(64) },
          ],
        },
      },
      't',
    );
    const shown = JSON.stringify(hideSecrets(c));
    for (const secret of [key, 'c'.repeat(64), 'intro-secret-xyz']) assert.ok(!shown.includes(secret), secret);
    for (const plain of ['ci-bot', 'nightly', 'builders', 'tools.read', 'gateway', 'https://as.example']) assert.ok(shown.includes(plain), plain);
    const scrubbed = configSecrets(c);
    for (const secret of [key, 'intro-secret-xyz']) assert.ok(scrubbed.includes(secret), secret);
    assert.ok(!scrubbed.includes('ci-bot') && !scrubbed.includes('builders'));
  });
});
