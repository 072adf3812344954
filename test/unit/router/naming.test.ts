import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exposedName, NAME_PATTERN } from '../../../src/router/naming.js';
import { View } from '../../../src/router/view.js';

describe('exposed names', () => {
  it('prefixes with the separator and keeps valid names as they are', () => {
    assert.equal(exposedName('git', '__', 'status'), 'git__status');
  });

  it('shortens long names deterministically with a hash suffix, within the pattern', () => {
    const long = 'x'.repeat(100);
    const a = exposedName('backend', '__', long);
    assert.match(a, NAME_PATTERN);
    assert.equal(a.length, 64);
    assert.equal(a, exposedName('backend', '__', long));
    assert.notEqual(a, exposedName('backend', '__', `${long}y`));
  });

  it('replaces invalid characters and keeps sanitised names apart', () => {
    const dotted = exposedName('b', '__', 'a.b');
    const under = exposedName('b', '__', 'a_b');
    assert.match(dotted, NAME_PATTERN);
    assert.notEqual(dotted, under);
  });

  it('reports collisions when building a view and keeps the first', () => {
    const catalog = (tools: string[]) => ({ tools: tools.map((name) => ({ name })), resources: [], resourceTemplates: [], prompts: [] });
    const v = new View(
      't',
      [
        { name: 'a', prefix: 'x', catalog: catalog(['t']), capabilities: {} },
        { name: 'b', prefix: 'x', catalog: catalog(['t']), capabilities: {} },
      ],
      '__',
      true,
    );
    assert.equal(v.tools.length, 1);
    assert.equal(v.tool('x__t')?.backend, 'a');
    assert.match(v.problems[0], /collision: "x__t"/);
  });

  it('routes resource URIs: exact, then template, first backend on ambiguity', () => {
    const v = new View(
      't',
      [
        { name: 'a', prefix: 'a', catalog: { tools: [], prompts: [], resources: [{ uri: 'file:///one' }], resourceTemplates: [{ uriTemplate: 'mem://{key}' }] }, capabilities: {} },
        { name: 'b', prefix: 'b', catalog: { tools: [], prompts: [], resources: [{ uri: 'file:///one' }, { uri: 'file:///two' }], resourceTemplates: [] }, capabilities: {} },
      ],
      '__',
      true,
    );
    assert.equal(v.resourceBackend('file:///one'), 'a');
    assert.equal(v.resourceBackend('file:///two'), 'b');
    assert.equal(v.resourceBackend('mem://k1'), 'a');
    assert.equal(v.resourceBackend('zzz://none'), undefined);
    assert.match(v.problems.join('\n'), /file:\/\/\/one/);
  });
});
