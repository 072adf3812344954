/**
 * `backends.<name>.credentials`: combinations that cannot work are config errors naming
 * their key; secrets must be declared; the admin API and the logger hide the secrets and
 * nothing else; `mcpeg validate` (checkBackend) and the build name an unset variable.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { hideSecrets, REDACTED } from '../../../src/config/secret-fields.js';
import { ConfigError } from '../../../src/errors/catalog.js';
import { checkBackend } from '../../../src/backends/factory.js';
import { credentialSource } from '../../../src/upstream/credentials/source.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { privilegedChanges } from '../../../src/admin/privileged.js';

const exchange = { type: 'token_exchange', token_endpoint: 'https://as.example/token', client_id: 'gw', client_secret: 'gw-secret-value', audience: 'https://api.example' };
const problems = (raw: Record<string, unknown>): string => {
  try {
    validateConfig(raw, 'test');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
};

describe('config: per-user upstream credentials', () => {
  it('accepts them on HTTP MCP, rest and openapi backends, with their defaults', () => {
    const c = validateConfig(
      {
        backends: {
          m: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: exchange },
          r: { type: 'rest', base_url: 'https://api.example', credentials: { type: 'per_principal', tokens: { 'key:ci': 'x' } }, tools: { t: { method: 'GET', path: '/' } } },
        },
      },
      'test',
    );
    const m = c.backends.m as { credentials: Record<string, unknown> };
    assert.equal(m.credentials.client_auth, 'client_secret_basic');
    assert.equal(m.credentials.subject_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(m.credentials.header, 'authorization');
    assert.equal(m.credentials.scheme, 'Bearer');
    assert.equal(m.credentials.cache_size, 10_000);
    assert.equal((c.backends.r as { credentials: { default: string } }).credentials.default, 'deny');
  });

  it('refuses what cannot work, naming the key', () => {
    assert.match(
      problems({ backends: { s: { type: 'mcp', command: 'node', credentials: exchange } } }),
      /backends\.s\.credentials: per-user credentials go in HTTP request headers/,
    );
    assert.match(
      problems({ backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', session_mode: 'shared', credentials: exchange } } }),
      /backends\.s\.session_mode: session_mode: shared would carry every principal's calls/,
    );
    assert.match(
      problems({ backends: { s: { type: 'mcp', url: 'https://mcp.example/sse', transport: 'sse', credentials: exchange } } }),
      /backends\.s\.transport: per-user credentials need Streamable HTTP/,
    );
    assert.match(
      problems({ backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: { ...exchange, audience: undefined } } } }),
      /backends\.s\.credentials\.audience: name the backend to the authorization server/,
    );
    assert.match(
      problems({ backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: { ...exchange, header: 'Bad Header' } } } }),
      /credentials\.header: expected an HTTP header name/,
    );
    assert.match(
      problems({
        backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: { type: 'per_principal', tokens: { a: 'x' }, tokens_env: { a: 'A' } } } },
        secrets: ['A'],
      }),
      /credentials\.tokens_env\.a: principal "a" is in "tokens" too/,
    );
  });

  it('environment variables must be declared as secrets', () => {
    assert.match(
      problems({ backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: { ...exchange, client_secret: undefined, client_secret_env: 'HOME' } } } }),
      /backends\.s\.credentials\.client_secret_env: environment variable HOME is not declared as a secret/,
    );
    assert.match(
      problems({ backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: { type: 'per_principal', tokens_env: { 'key:ci': 'PATH' } } } } }),
      /backends\.s\.credentials\.tokens_env\.key:ci: environment variable PATH is not declared as a secret/,
    );
  });

  it('the admin API and the logger hide the secrets and only them', () => {
    const found: string[] = [];
    const shown = hideSecrets(
      {
        backends: {
          m: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: exchange },
          r: { type: 'rest', credentials: { type: 'per_principal', tokens: { 'key:ci': 'ci-upstream-secret' }, tokens_env: { 'key:bot': 'BOT_TOKEN' } } },
        },
      },
      (v) => found.push(v),
    ) as { backends: { m: { credentials: Record<string, unknown> }; r: { credentials: Record<string, Record<string, string>> } } };
    const m = shown.backends.m.credentials;
    assert.equal(m.client_secret, REDACTED);
    assert.equal(m.token_endpoint, exchange.token_endpoint);
    assert.equal(m.client_id, 'gw');
    assert.equal(m.audience, exchange.audience);
    assert.equal(shown.backends.r.credentials.tokens['key:ci'], REDACTED);
    assert.equal(shown.backends.r.credentials.tokens_env['key:bot'], 'BOT_TOKEN');
    assert.ok(found.includes('gw-secret-value') && found.includes('ci-upstream-secret'));
  });

  it('an unset variable is named by mcpeg validate and at build', async () => {
    const c = validateConfig(
      {
        secrets: ['GW_SECRET'],
        backends: { s: { type: 'mcp', url: 'https://mcp.example/mcp', credentials: { ...exchange, client_secret: undefined, client_secret_env: 'GW_SECRET' } } },
      },
      'test',
    );
    const found = await checkBackend('s', c.backends.s, { base: '.', workspace: '.' }, {});
    assert.deepEqual(found, ['backends.s.credentials.client_secret_env: environment variable GW_SECRET is not set']);
    assert.deepEqual(await checkBackend('s', c.backends.s, { base: '.', workspace: '.' }, { GW_SECRET: 'x' }), []);
    const creds = (c.backends.s as { credentials: Parameters<typeof credentialSource>[1] }).credentials;
    assert.throws(() => credentialSource('s', creds, silentLogger(), {}), /backends\.s\.credentials\.client_secret_env: environment variable GW_SECRET is not set/);
  });

  it("only the config file may name a token endpoint: the admin API cannot send callers' tokens elsewhere", () => {
    const cfg = (endpoint: string | undefined) =>
      validateConfig({ backends: { m: { type: 'mcp', url: 'https://mcp.example/mcp', ...(endpoint ? { credentials: { ...exchange, token_endpoint: endpoint } } : {}) } } }, 'test');
    const as = 'https://as.example/token';
    assert.deepEqual(privilegedChanges(cfg(as), cfg(as)), []);
    for (const [from, to] of [
      [undefined, as],
      [as, 'https://attacker.example/token'],
    ] as const) {
      const found = privilegedChanges(cfg(from), cfg(to));
      assert.deepEqual(
        found.map((p) => [p.path, p.allowedBy]),
        [['backends.m.credentials.token_endpoint', undefined]],
      );
    }
  });
});
