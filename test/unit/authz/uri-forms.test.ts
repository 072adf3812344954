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

  it('invalid escapes and long input stay cheap', () => {
    assert.equal(uriForms('file:///%zz/%ff').resolved, 'file:///%zz/\ufffd');
    const long = `file:///${'%2e%2e/'.repeat(2000)}x`;
    const started = performance.now();
    assert.equal(uriForms(long).resolved, 'file:///x');
    assert.ok(performance.now() - started < 200);
  });
});
