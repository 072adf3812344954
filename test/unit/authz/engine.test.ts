/**
 * The authorization engine (src/authz/engine.ts, rules.ts): deny wins over allow, the
 * default, each principal attribute, the two forms of tool and prompt patterns, resource
 * globs, and the config errors that name the bad key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANONYMOUS, type Principal } from '../../../src/auth/principal.js';
import { Authorizer, MAX_TARGET_CHARS, type Target } from '../../../src/authz/engine.js';
import { validateConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/catalog.js';

const BACKENDS = {
  git: { type: 'mcp', command: 'x' },
  fs: { type: 'mcp', command: 'x', prefix: 'files' },
};

function engine(authorization: Record<string, unknown>): Authorizer {
  const c = validateConfig({ backends: BACKENDS, authorization }, 'test');
  return new Authorizer(c.authorization!, c);
}

function principal(over: Partial<Principal>): Principal {
  return { ...ANONYMOUS, ...over };
}

const alice = principal({ id: 'oauth:https://idp.example#alice', kind: 'oauth', subject: 'alice', clientId: 'cli-app', issuer: 'https://idp.example', groups: ['dev'] });
const ci = principal({ id: 'key:ci', kind: 'api_key', keyName: 'ci', groups: ['robots'] });
const tool = (backend: string, name: string): Target => ({ kind: 'tool', backend, name });

describe('authorization engine', () => {
  it('decides by the default when no rule covers the target (rule "default")', () => {
    assert.deepEqual({ ...engine({}).decide(alice, tool('git', 'status')), reason: undefined }, { allowed: true, rule: 'default', reason: undefined });
    const d = engine({ default: 'deny' }).decide(alice, tool('git', 'status'));
    assert.equal(d.allowed, false);
    assert.equal(d.rule, 'default');
    assert.match(d.reason, /authorization\.default is deny/);
  });

  it('deny wins over allow, whatever their order', () => {
    for (const rules of [
      [
        { name: 'all', allow: { backends: ['*'] } },
        { name: 'no-push', deny: { tools: ['git__push*'] } },
      ],
      [
        { name: 'no-push', deny: { tools: ['git__push*'] } },
        { name: 'all', allow: { backends: ['*'] } },
      ],
    ]) {
      const e = engine({ default: 'deny', rules });
      const d = e.decide(alice, tool('git', 'push_branch'));
      assert.equal(d.allowed, false);
      assert.equal(d.rule, 'no-push');
      assert.match(d.reason, /denies tools "git__push\*"/);
      const ok = e.decide(alice, tool('git', 'status'));
      assert.deepEqual([ok.allowed, ok.rule], [true, 'all']);
    }
  });

  it('takes the first allow rule that covers the target', () => {
    const e = engine({
      default: 'deny',
      rules: [
        { name: 'first', allow: { tools: ['git__st*'] } },
        { name: 'second', allow: { backends: ['git'] } },
      ],
    });
    assert.equal(e.decide(alice, tool('git', 'status')).rule, 'first');
    assert.equal(e.decide(alice, tool('git', 'log')).rule, 'second');
  });

  it('matches each principal attribute, and only it', () => {
    const cases: Array<[Record<string, unknown>, Principal, Principal]> = [
      [{ ids: ['key:ci'] }, ci, alice],
      [{ subjects: ['alice'] }, alice, ci],
      [{ client_ids: ['cli-app'] }, alice, ci],
      [{ groups: ['robots'] }, ci, alice],
      [{ api_keys: ['ci'] }, ci, alice],
      [{ kinds: ['oauth'] }, alice, ci],
      [{ kinds: ['anonymous'] }, ANONYMOUS, ci],
    ];
    for (const [principals, yes, no] of cases) {
      const e = engine({ default: 'allow', rules: [{ name: 'r', principals, deny: { backends: ['git'] } }] });
      assert.equal(e.decide(yes, tool('git', 'status')).rule, 'r', `${JSON.stringify(principals)} is about ${yes.id}`);
      assert.equal(e.decide(no, tool('git', 'status')).rule, 'default', `${JSON.stringify(principals)} is not about ${no.id}`);
    }
  });

  it('a rule without principals is about everyone; any listed attribute is enough', () => {
    const e = engine({ rules: [{ name: 'everyone', deny: { tools: ['*__delete*'] } }] });
    for (const p of [ANONYMOUS, alice, ci]) assert.equal(e.decide(p, tool('fs', 'delete_file')).rule, 'everyone');
    const any = engine({ rules: [{ name: 'r', principals: { subjects: ['nobody'], groups: ['dev'] }, deny: { backends: ['*'] } }] });
    assert.equal(any.decide(alice, tool('git', 'x')).rule, 'r');
  });

  it('principal attributes are compared exactly (no case folding, no prototype keys)', () => {
    const e = engine({ rules: [{ name: 'r', principals: { groups: ['Dev'], subjects: ['constructor'] }, deny: { backends: ['*'] } }] });
    assert.equal(e.decide(alice, tool('git', 'x')).rule, 'default');
    assert.equal(e.decide(principal({ id: 'x', kind: 'oauth', subject: '__proto__', groups: ['toString', 'dev'] }), tool('git', 'x')).rule, 'default');
    assert.equal(e.decide(principal({ id: 'x', kind: 'oauth', subject: 'constructor' }), tool('git', 'x')).rule, 'r');
  });

  it('tool patterns without "/" match the aggregate name (the prefix, not the backend name); with "/" <backend>/<name>', () => {
    const e = engine({
      default: 'deny',
      rules: [
        { name: 'agg', allow: { tools: ['files__read*'] } },
        { name: 'qualified', allow: { tools: ['git/status'] } },
      ],
    });
    assert.equal(e.decide(alice, tool('fs', 'read_file')).rule, 'agg');
    assert.equal(e.decide(alice, tool('fs', 'write_file')).allowed, false);
    assert.equal(e.decide(alice, tool('git', 'status')).rule, 'qualified');
    // fs's prefix is "files": "fs__read*" is not its aggregate name.
    assert.equal(engine({ default: 'deny', rules: [{ name: 'x', allow: { tools: ['fs__read*'] } }] }).decide(alice, tool('fs', 'read_file')).allowed, false);
    assert.equal(engine({ default: 'deny', rules: [{ name: 'x', allow: { tools: ['fs/read*'] } }] }).decide(alice, tool('fs', 'read_file')).rule, 'x');
  });

  it('names are matched case-sensitively, and "*" does not cross "/" in the qualified form', () => {
    const e = engine({ default: 'deny', rules: [{ name: 'r', allow: { tools: ['git__status', 'git/*'] } }] });
    assert.equal(e.decide(alice, tool('git', 'Status')).rule, 'r'); // git/* covers it
    const strict = engine({ default: 'deny', rules: [{ name: 'r', allow: { tools: ['git__status'] } }] });
    assert.equal(strict.decide(alice, tool('git', 'STATUS')).allowed, false);
    const slash = engine({ default: 'deny', rules: [{ name: 'r', allow: { tools: ['git/*'] } }] });
    assert.equal(slash.decide(alice, tool('git', 'a/b')).allowed, false);
    assert.equal(engine({ default: 'deny', rules: [{ name: 'r', allow: { tools: ['git/**'] } }] }).decide(alice, tool('git', 'a/b')).rule, 'r');
  });

  it('prompts have their own patterns; backend patterns cover everything a backend offers', () => {
    const e = engine({
      default: 'deny',
      rules: [
        { name: 'p', allow: { prompts: ['git__review'] } },
        { name: 'fs-all', allow: { backends: ['fs'] } },
      ],
    });
    assert.equal(e.decide(alice, { kind: 'prompt', backend: 'git', name: 'review' }).rule, 'p');
    assert.equal(e.decide(alice, tool('git', 'review')).allowed, false, 'a prompt pattern is not a tool pattern');
    for (const kind of ['tool', 'prompt', 'resource', 'backend'] as const) assert.equal(e.decide(alice, { kind, backend: 'fs', name: 'file:///x' }).rule, 'fs-all');
    assert.equal(e.decide(alice, { kind: 'backend', backend: 'git', name: 'git' }).allowed, false, 'tool patterns do not open the backend itself');
  });

  it('resource patterns match URIs; allow patterns never match a URI with "." or ".." segments', () => {
    const e = engine({ default: 'deny', rules: [{ name: 'docs', allow: { resources: ['file:///docs/**'] } }] });
    const res = (name: string): Target => ({ kind: 'resource', backend: 'fs', name });
    assert.equal(e.decide(alice, res('file:///docs/a/b.md')).rule, 'docs');
    for (const uri of ['file:///docs/../etc/passwd', 'file:///docs/%2e%2e/etc/passwd', 'file:///docs/./a', 'file:///docs/%2E%2e/x', 'file:///docs/..']) {
      const d = e.decide(alice, res(uri));
      assert.deepEqual([d.allowed, d.rule], [false, 'default'], uri);
    }
    const deny = engine({ rules: [{ name: 'secret', deny: { resources: ['file:///secret/**'] } }] });
    assert.equal(deny.decide(alice, res('file:///secret/../secret/x')).rule, 'secret', 'deny patterns still match dotted URIs');
  });

  it('allow patterns never match a URI with control characters; deny sees the WHATWG URL forms (review 12)', () => {
    const res = (name: string): Target => ({ kind: 'resource', backend: 'fs', name });
    const e = engine({ default: 'deny', rules: [{ name: 'docs', allow: { resources: ['file:///docs/**', 'https://example.com/docs/**'] } }] });
    assert.equal(e.decide(alice, res('file:///docs/a.md')).rule, 'docs');
    assert.equal(e.decide(alice, res('https://example.com/docs/a?x=1')).rule, 'docs');
    for (const uri of ['file:///docs/\t../etc/passwd', 'file:///docs/.\t./etc', 'file:///docs/..\n/etc', 'file:///docs/a\tb.md', 'file:///docs/a\u0001.md']) {
      const d = e.decide(alice, res(uri));
      assert.deepEqual([d.allowed, d.rule], [false, 'default'], JSON.stringify(uri));
      assert.match(d.reason, /control characters/);
    }
    const deny = engine({ rules: [{ name: 'secret', deny: { resources: ['file:///secret/**', 'http://127.0.0.1/**'] } }] });
    for (const uri of [
      'file:/secret/x',
      'file:secret/x',
      ' file:///secret/x',
      'file:///sec\tret/x',
      'file:/%2Fsecret/x',
      'http://0x7f.1/a',
      'http://127.0.0.1:80/a',
      'http:127.0.0.1/a',
    ]) {
      assert.equal(deny.decide(alice, res(uri)).rule, 'secret', JSON.stringify(uri));
    }
  });

  it('refuses targets over the length limit before matching (rule "limit"), and matches long ones in linear time', () => {
    const e = engine({ rules: [{ name: 'r', allow: { resources: ['*a*a*a*a*a*a*b', '**/*a*a*a*a*a*a*b/**'] } }] });
    const d = e.decide(alice, { kind: 'resource', backend: 'fs', name: 'x'.repeat(MAX_TARGET_CHARS + 1) });
    assert.deepEqual([d.allowed, d.rule], [false, 'limit']);
    const t = performance.now();
    e.decide(alice, { kind: 'resource', backend: 'fs', name: 'a'.repeat(MAX_TARGET_CHARS) });
    e.decide(alice, { kind: 'resource', backend: 'fs', name: 'a/'.repeat(MAX_TARGET_CHARS / 2) });
    assert.ok(performance.now() - t < 2000, 'globs run on RE2: no backtracking');
  });

  it('principals the same rules are about share a key (list memo)', () => {
    const e = engine({ rules: [{ name: 'r', principals: { groups: ['dev'] }, deny: { backends: ['git'] } }] });
    const bob = principal({ id: 'oauth:x#bob', kind: 'oauth', subject: 'bob', groups: ['dev'] });
    assert.equal(e.keyOf(e.rulesAbout(alice)), e.keyOf(e.rulesAbout(bob)));
    assert.notEqual(e.keyOf(e.rulesAbout(alice)), e.keyOf(e.rulesAbout(ci)));
  });
});

describe('authorization config', () => {
  const invalid = (authorization: unknown) => {
    try {
      validateConfig({ authorization }, 'test');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    assert.fail('expected a ConfigError');
  };

  it('names unknown keys', () => {
    assert.match(invalid({ rules: [{ name: 'r', allow: { tool: ['x'] } }] }), /authorization\.rules\.0\.allow.*tool/s);
    assert.match(invalid({ rules: [{ name: 'r', principals: { group: ['x'] }, allow: { tools: ['x'] } }] }), /authorization\.rules\.0\.principals.*group/s);
    assert.match(invalid({ defaults: 'deny' }), /authorization.*defaults/s);
  });

  it('wants exactly one of allow or deny, something in it, unique names that are not reserved', () => {
    assert.match(invalid({ rules: [{ name: 'r' }] }), /exactly one of "allow" or "deny"/);
    assert.match(invalid({ rules: [{ name: 'r', allow: { tools: ['x'] }, deny: { tools: ['y'] } }] }), /exactly one of "allow" or "deny"/);
    assert.match(invalid({ rules: [{ name: 'r', allow: {} }] }), /list at least one of backends/);
    assert.match(invalid({ rules: [{ name: 'r', principals: {}, allow: { tools: ['x'] } }] }), /omit "principals"/);
    assert.match(
      invalid({
        rules: [
          { name: 'r', allow: { tools: ['x'] } },
          { name: 'r', deny: { tools: ['y'] } },
        ],
      }),
      /rules\.1\.name.*used twice/s,
    );
    assert.match(invalid({ rules: [{ name: 'default', allow: { tools: ['x'] } }] }), /reserved/);
    assert.match(invalid({ rules: [{ name: 'a b', allow: { tools: ['x'] } }] }), /rule names use/);
  });

  it('names a bad glob by its key', () => {
    assert.match(invalid({ rules: [{ name: 'r', allow: { tools: ['{a,b'] } }] }), /authorization\.rules\.0\.allow\.tools\.0.*unbalanced/s);
  });

  it('rate limits may key on the principal, except gateway-scope ones', () => {
    assert.equal(validateConfig({ rate_limits: { rules: [{ scope: 'tool', key: 'principal', rate: 1, burst: 1 }] } }, 't').rate_limits.rules[0].key, 'principal');
    assert.throws(() => validateConfig({ rate_limits: { rules: [{ scope: 'gateway', key: 'principal', rate: 1, burst: 1 }] } }, 't'), /before any session or principal exists/);
  });
});
