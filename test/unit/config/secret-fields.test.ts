/**
 * The secret classifier (src/config/secret-fields.ts) that the admin API's redaction and
 * the logger's scrubbing share: which names are credentials, URLs (user info found as the
 * WHATWG parser finds it, secret query parameters), program arguments; and a property:
 * whatever the secret, its hidden form never contains it and the sink receives it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateConfig } from '../../../src/config/load.js';
import { hideInText, hideSecrets, isSecretName, REDACTED } from '../../../src/config/secret-fields.js';
import { configSecrets } from '../../../src/observability/secrets.js';

describe('secret-fields: names', () => {
  it('credential names, by word', () => {
    for (const n of [
      'token',
      'github_token',
      'clientSecret',
      'db_password',
      'apiKey',
      'api_key',
      'X-Api-Key',
      'x-goog-api-key',
      'private_key',
      'access_token',
      'X-Amz-Signature',
      'X-Amz-Security-Token',
      'passwd',
      'authorization',
      'sha256',
      'AWS_SECRET_ACCESS_KEY',
    ])
      assert.equal(isSecretName(n), true, n);
  });
  it('not credentials: lookup keys, limits, names and places of credentials', () => {
    for (const n of ['hash_key', 'key', 'max_keys', 'tokenizer', 'token_url', 'token_env', 'password_file', 'api_key_header', 'name', 'keyboard', 'monkey', 'sort_key'])
      assert.equal(isSecretName(n), false, n);
  });
  it('a bare "key" is a credential as a query parameter; --pass and --key as flags', () => {
    assert.equal(isSecretName('key', { query: true }), true);
    assert.equal(isSecretName('pass', { flag: true }), true);
    assert.equal(isSecretName('key', { flag: true }), true);
    assert.equal(isSecretName('pass'), false);
  });
});

describe('secret-fields: values', () => {
  it('URL user info, including a password with "@" (WHATWG: the last "@" of the authority)', () => {
    assert.equal(hideInText('https://u:p@ss@host.example/x'), `https://u:${REDACTED}@host.example/x`);
    assert.equal(hideInText('https://ghp_abc@github.com/o/r.git'), `https://${REDACTED}@github.com/o/r.git`);
    assert.equal(hideInText('see postgres://app:s3cr@t@db:5432/app?sslmode=require and more'), `see postgres://app:${REDACTED}@db:5432/app?sslmode=require and more`);
    assert.equal(hideInText('https://host.example/a@b'), 'https://host.example/a@b', 'an "@" in the path is not user info');
  });
  it('secret query and fragment parameters; others kept', () => {
    assert.equal(
      hideInText('https://h/x?api_key=A&page=2&sig=B&key=C#access_token=D&state=x'),
      `https://h/x?api_key=${REDACTED}&page=2&sig=${REDACTED}&key=${REDACTED}#access_token=${REDACTED}&state=x`,
    );
  });
  it('arguments: --token X, --api-key=X, header lines; short flags and others kept', () => {
    const args = ['server.js', '--token', 'T', '--api-key=K', '-p', '8080', '-H', 'Authorization: Bearer B', '--verbose', { if: 'x', then: ['--password', 'P'] }];
    assert.deepEqual(hideSecrets({ args }), {
      args: ['server.js', '--token', REDACTED, `--api-key=${REDACTED}`, '-p', '8080', '-H', `Authorization: ${REDACTED}`, '--verbose', { if: 'x', then: ['--password', REDACTED] }],
    });
  });
  it('env and header maps; numbers are never secrets; "__proto__" keys stay own data', () => {
    const out = hideSecrets({
      env: { A: 'x' },
      headers: { accept: 'application/json', 'x-tenant': 'acme' },
      max_tokens: 4096,
      ...JSON.parse('{"__proto__": {"token": "t"}}'),
    }) as Record<string, unknown>;
    assert.deepEqual(out.env, { A: REDACTED });
    assert.deepEqual(out.headers, { accept: 'application/json', 'x-tenant': REDACTED });
    assert.equal(out.max_tokens, 4096);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { token: REDACTED });
  });
});

describe('secret-fields: the authorization section', () => {
  it('holds no secret: rule names, groups and patterns stay readable (admin answers, audit log lines)', () => {
    const c = validateConfig(
      {
        auth: { api_keys: [{ name: 'ci', key: 'ci-key-0123456789abcdef', groups: ['robots'] }] },
        authorization: { default: 'deny', rules: [{ name: 'robots-read', principals: { groups: ['robots'], subjects: ['alice-smith'] }, allow: { tools: ['every__get-*'] } }] },
      },
      'test',
    );
    const secrets = configSecrets(c, {});
    assert.deepEqual(secrets, ['ci-key-0123456789abcdef']);
    assert.deepEqual(hideSecrets(c.authorization), c.authorization);
  });
});

describe('secret-fields: property', () => {
  const secret = fc
    .string({ minLength: 6, maxLength: 40, unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()*+,;=:@%".split('')) })
    .filter((s) => /[A-Za-z0-9]{6}/.test(s));
  it('a secret planted in a URL password, a secret query value, an argument or a secret key never survives, and the sink gets it', () => {
    fc.assert(
      fc.property(secret, (s) => {
        const enc = encodeURIComponent(s);
        const doc = {
          url: `https://user:${enc}@host.example/p?x=1&access_token=${enc}`,
          args: ['--secret', s, `--token=${s}`],
          nested: { clientSecret: s },
        };
        const seen: string[] = [];
        const text = JSON.stringify(hideSecrets(doc, (v) => seen.push(v)));
        assert.ok(!text.includes(enc) && !text.includes(JSON.stringify(s).slice(1, -1)), text);
        assert.ok(seen.includes(s), 'the sink receives the value (decoded)');
      }),
      { numRuns: 300 },
    );
  });
});

describe('observability/secrets: what the logger scrubs', () => {
  it('declared secrets (what *_env sends), secrets found in the config, long env values; not short settings', () => {
    const c = validateConfig(
      {
        secrets: ['TOK', 'UNUSED'],
        backends: {
          a: {
            type: 'rest',
            base_url: 'https://u:url-password@h.example/?api_key=query-secret',
            auth: { type: 'bearer', token_env: 'TOK' },
            tools: { t: { method: 'GET', path: '/t' } },
          },
          b: { type: 'mcp', command: '/bin/true', args: ['--token', 'arg-secret'], env: { MODE: 'prod', LONG: 'a-long-env-value-0123' } },
        },
        plugins: [{ name: 'p', module: '/x.mjs', config: { github_token: 'plugin-secret' } }],
      },
      'test',
    );
    const s = configSecrets(c, { TOK: 'env-token-value', UNUSED: 'declared-but-unused' });
    for (const v of ['env-token-value', 'declared-but-unused', 'url-password', 'query-secret', 'arg-secret', 'plugin-secret', 'a-long-env-value-0123']) assert.ok(s.includes(v), v);
    assert.ok(!s.includes('prod'));
  });
});

describe('hideSecrets: nested credentials and connection strings', () => {
  it('everything under a credential-named object is hidden; numbers stay', () => {
    const out = hideSecrets({ credentials: { user: 'svc', pass: 'p-4f8a2c', nested: ['t-9b1d3e'], n: 3 } }) as { credentials: Record<string, unknown> };
    assert.deepEqual(out.credentials, { user: REDACTED, pass: REDACTED, nested: [REDACTED], n: 3 });
  });

  it('the top-level secrets declaration (names of variables) is shown', () => {
    assert.deepEqual((hideSecrets({ secrets: ['GITHUB_TOKEN'] }) as { secrets: string[] }).secrets, ['GITHUB_TOKEN']);
  });

  it('a connection string keeps its shape with the password hidden', () => {
    const out = hideSecrets({ dsn: 'Server=db;User Id=app;Password=s3cr-et;Pwd=x2y;Database=main' }) as { dsn: string };
    assert.equal(out.dsn, `Server=db;User Id=app;Password=${REDACTED};Pwd=${REDACTED};Database=main`);
  });
});
