import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CanonicalError, canonicalJson, MAX_DEPTH } from '../../../src/pinning/canonical.js';
import { toolDigest } from '../../../src/pinning/digest.js';
import { LockFileError, parseLockFile, serializeLockFile, type Pin } from '../../../src/pinning/lock-file.js';

describe('canonical JSON (RFC 8785 style)', () => {
  it('sorts members by UTF-16 code units, drops whitespace, serializes numbers and strings as ECMAScript does', () => {
    // RFC 8785 §3.2.3's sorting example: "\u20ac" (€) sorts after "\r" and "1", and "\ud83d\ude00" before "\ufb33".
    const v = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    );
    assert.deepEqual(Object.keys(JSON.parse(canonicalJson(v))).length, 7);
    assert.equal(
      canonicalJson(v),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    assert.equal(canonicalJson({ b: [1e21, 0.000001, -0, 1.5], a: { d: null, c: true } }), '{"a":{"c":true,"d":null},"b":[1e+21,0.000001,0,1.5]}');
  });

  it('gives one text for any member order, and treats "__proto__" as a member', () => {
    const a = JSON.parse('{"name":"t","inputSchema":{"type":"object","properties":{"x":{"type":"string"}}},"__proto__":{"evil":1}}');
    const b = JSON.parse('{"__proto__":{"evil":1},"inputSchema":{"properties":{"x":{"type":"string"}},"type":"object"},"name":"t"}');
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.match(canonicalJson(a), /"__proto__":\{"evil":1\}/);
  });

  it('refuses nesting deeper than MAX_DEPTH (a digest error, not a stack overflow)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_DEPTH + 5; i++) deep = [deep];
    assert.throws(() => canonicalJson(deep), CanonicalError);
    const d = toolDigest({ name: 'deep', inputSchema: deep as Record<string, unknown> });
    assert.ok('error' in d);
  });

  it('digests cover every member, _meta included (review 6: MCP Apps and OpenAI Apps hints live there)', () => {
    const base = { name: 't', description: 'd', inputSchema: { type: 'object' } };
    const d = (x: Record<string, unknown>) => (toolDigest(x) as { digest: string }).digest;
    for (const change of [
      { title: 'T' },
      { icons: [{ src: 'https://x/i.png' }] },
      { outputSchema: { type: 'object' } },
      { execution: { taskSupport: 'optional' } },
      { _meta: { ui: { resourceUri: 'ui://t/app.html' } } },
      { _meta: { 'openai/widgetAccessible': true } },
    ]) {
      assert.notEqual(d(base), d({ ...base, ...change }), JSON.stringify(change));
    }
  });
});

describe('lock file', () => {
  const pin: Pin = {
    digest: `sha256:${'a'.repeat(64)}`,
    firstSeen: '2025-01-01T00:00:00.000Z',
    pinnedAt: '2025-01-02T00:00:00.000Z',
    pinnedBy: 'first use',
    size: 10,
    definition: { name: 't' },
  };

  it('round-trips, in one order whatever the insertion order', () => {
    const a = new Map([
      ['z', new Map([['__proto__', pin]])],
      ['a', new Map([['t', pin]])],
    ]);
    const b = new Map([
      ['a', new Map([['t', pin]])],
      ['z', new Map([['__proto__', pin]])],
    ]);
    const text = serializeLockFile(a);
    assert.equal(text, serializeLockFile(b));
    assert.ok(text.endsWith('}\n'));
    const back = parseLockFile(text, 'x.json');
    assert.deepEqual(back.get('z')?.get('__proto__'), pin);
    assert.equal(serializeLockFile(back), text);
  });

  it('stays within its size limit: the largest definitions go first; digests that do not fit at all are refused', () => {
    const big: Pin = { ...pin, digest: `sha256:${'b'.repeat(64)}`, definition: { name: 'big', enum: new Array(200).fill(0) } };
    const pins = new Map([
      [
        'a',
        new Map([
          ['small', pin],
          ['big', big],
        ]),
      ],
    ]);
    const full = serializeLockFile(pins);
    const max = Buffer.byteLength(full) - 100;
    const text = serializeLockFile(pins, max);
    assert.ok(Buffer.byteLength(text) <= max);
    const back = parseLockFile(text, 'x.json').get('a');
    assert.equal(back?.get('big')?.definition, undefined);
    assert.equal(back?.get('big')?.digest, big.digest);
    assert.deepEqual(back?.get('small')?.definition, pin.definition);
    assert.throws(() => serializeLockFile(pins, 200), LockFileError);
  });

  it('names the file and the member of every problem', () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => parseLockFile(text, '/etc/mcpeg.lock.json'),
        (e: Error) => e instanceof LockFileError && e.message.startsWith('/etc/mcpeg.lock.json: ') && re.test(e.message),
      );
    bad('{', /not JSON/);
    bad('[]', /\(root\): expected an object/);
    bad('{"version":2,"backends":{}}', /version: expected 1/);
    bad('{"version":1,"backends":{"b":{"tools":{"t":{"digest":"sha256:00"}}}}}', /backends\."b"\.tools\."t"\.digest/);
    bad('{"version":1,"backends":{},"extra":1}', /extra: unknown member/);
  });
});
