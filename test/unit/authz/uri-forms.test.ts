/** The forms of a resource URI resource rules see (src/authz/uri-forms.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uriForms } from '../../../src/authz/uri-forms.js';

describe('uriForms', () => {
  it('resolves what a backend may resolve', () => {
    const cases: Array<[string, string]> = [
      ['file:///public/../secret/key', 'file:///secret/key'],
      ['file:///public/%2e%2e/secret/key', 'file:///secret/key'],
      ['file:///public/..%2Fsecret/key', 'file:///secret/key'],
      ['file:///public/%252e%252e/secret/key', 'file:///secret/key'],
      ['FILE://LocalHost/secret/key', 'file:///secret/key'],
      ['file:////secret//key', 'file:///secret/key'],
      ['file:///public\\..\\secret\\key', 'file:///secret/key'],
      ['HTTPS://User@Example.COM/A/./b/', 'https://User@example.com/A/b/'],
      ['repo://docs/a%20b', 'repo://docs/a b'],
      ['file:///a/..', 'file:///'],
    ];
    for (const [raw, resolved] of cases) assert.equal(uriForms(raw).resolved, resolved, raw);
  });

  it('bare drops query and fragment; dotted sees decoded dot segments', () => {
    const u = uriForms('file:///secret/key?x=1#frag');
    assert.equal(u.bare, 'file:///secret/key');
    assert.equal(u.resolved, 'file:///secret/key?x=1#frag');
    assert.equal(uriForms('file:///docs/..%2Fetc').dotted, true);
    assert.equal(uriForms('file:///docs/%2E%2E/etc').dotted, true);
    assert.equal(uriForms('file:///docs/a..b/c').dotted, false);
    assert.equal(uriForms('demo://resource/{id}').resolved, 'demo://resource/{id}');
  });

  it('reads URIs as the WHATWG URL parser does first (review 12)', () => {
    const cases: Array<[string, string]> = [
      ['file:/secret/key', 'file:///secret/key'],
      ['file:secret/key', 'file:///secret/key'],
      [' file:///secret/key\n', 'file:///secret/key'],
      ['\u0000file:///secret/key', 'file:///secret/key'],
      ['file:///sec\tret/k\r\ney', 'file:///secret/key'],
      ['fi\tle:///secret/key', 'file:///secret/key'],
      ['file:%2Fsecret/key', 'file:///secret/key'],
      ['file:///sec%09ret/key', 'file:///secret/key'],
      ['file:///public/.\t./secret/key', 'file:///secret/key'],
      ['http://example.com:80/secret/x', 'http://example.com/secret/x'],
      ['https://example.com:443/secret/x', 'https://example.com/secret/x'],
      ['wss://Example.com:443/x', 'wss://example.com/x'],
      ['https://example.com:/x', 'https://example.com/x'],
      ['http:/example.com/secret/x', 'http://example.com/secret/x'],
      ['http:example.com/secret/x', 'http://example.com/secret/x'],
      ['http:///example.com/secret/x', 'http://example.com/secret/x'],
      ['https://example.com:8443/x', 'https://example.com:8443/x'],
      ['repo:docs/x', 'repo:docs/x'],
    ];
    for (const [raw, resolved] of cases) assert.equal(uriForms(raw).resolved, resolved, JSON.stringify(raw));
  });

  it('parsed is what new URL() makes of it, path decoded; deny sees it, allow must match it', () => {
    const cases: Array<[string, string]> = [
      ['file:/%2Fsecret/key', 'file:///secret/key'],
      ['http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/secret/x', 'http://example.com/secret/x'],
      ['http://0x7f.1/secret/x', 'http://127.0.0.1/secret/x'],
      ['file:///public/..%2Fsecret/key?q#f', 'file:///secret/key?q#f'],
      ['repo://docs/a%20b/{id}', 'repo://docs/a b/{id}'],
    ];
    for (const [raw, parsed] of cases) {
      const u = uriForms(raw);
      assert.equal(u.parsed, parsed, raw);
      assert.ok(u.denyForms.includes(parsed), raw);
      assert.ok(u.allowForms.includes(parsed), raw);
    }
    const q = uriForms('http://0x7f.1/secret/x?q#f');
    assert.ok(q.denyForms.includes('http://127.0.0.1/secret/x'));
    assert.ok(q.denyForms.includes('http://127.0.0.1/secret/x?q'));
    assert.equal(uriForms('not a url').parsed, undefined);
    assert.deepEqual(uriForms('file:///public/a.txt').allowForms, ['file:///public/a.txt']);
  });

  it('controls and dot segments hidden by tabs and newlines are flagged', () => {
    for (const raw of ['file:///public/\t../secret', 'file:///public/.\t./secret', 'file:///public/..\n/secret', 'file:///public/.\r./secret']) {
      const u = uriForms(raw);
      assert.equal(u.dotted, true, JSON.stringify(raw));
      assert.equal(u.controls, true, JSON.stringify(raw));
    }
    assert.equal(uriForms('file:///public/a\u0001b').controls, true);
    assert.equal(uriForms('file:///public/a b').controls, false);
    assert.equal(uriForms('file:///public/a.txt').controls, false);
    assert.equal(uriForms('file:///public/a.txt').dotted, false);
  });

  it('invalid escapes and long input stay cheap', () => {
    assert.equal(uriForms('file:///%zz/%ff').resolved, 'file:///%zz/\ufffd');
    const long = `file:///${'%2e%2e/'.repeat(2000)}x`;
    const started = performance.now();
    assert.equal(uriForms(long).resolved, 'file:///x');
    assert.equal(uriForms(`\t${long.replaceAll('/', '/\t')}`).resolved, 'file:///x');
    assert.ok(performance.now() - started < 200);
  });
});
