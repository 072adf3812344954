/** A backend that has not been up yet: calls to names under its prefix are refused as not up (-32010), not unknown. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { View } from '../../../src/router/view.js';
import { EMPTY_CATALOG } from '../../../src/upstream/catalog.js';

const notYetUp = { code: 'MCPEG_ERR_BACKEND_UNAVAILABLE' as const, message: 'backend "my.api" is not up yet' };
const up = { name: 'echo', prefix: 'echo', catalog: { ...EMPTY_CATALOG, tools: [{ name: 'say' }] }, capabilities: {} };
const late = { name: 'my.api', prefix: 'my.api', catalog: EMPTY_CATALOG, capabilities: undefined, notYetUp };

describe('view: backends not up yet', () => {
  it('the aggregate refuses names under the backend’s (cleaned) prefix, and only those', () => {
    const v = new View('aggregate', [up, late], '__', true);
    assert.deepEqual(v.tool('echo__say'), { backend: 'echo', name: 'say' });
    const e = v.refusal('my_api__fetch');
    assert.equal(e?.code, 'MCPEG_ERR_BACKEND_UNAVAILABLE');
    assert.deepEqual(e?.data, { tool: 'my_api__fetch', backend: 'my.api', backendTool: 'fetch' });
    assert.equal(v.refusal('echo__nope'), undefined);
    assert.equal(v.refusal('other__fetch'), undefined);
    assert.equal(v.refusal('my_api_fetch'), undefined);
  });

  it('a name under two such prefixes is the longer one’s (whatever their order), so authorization decides for that backend', () => {
    const gh = { name: 'gh', prefix: 'gh', catalog: EMPTY_CATALOG, capabilities: undefined, notYetUp };
    const ghx = { name: 'ghx', prefix: 'gh__x', catalog: EMPTY_CATALOG, capabilities: undefined, notYetUp };
    for (const order of [
      [gh, ghx],
      [ghx, gh],
    ]) {
      const v = new View('aggregate', order, '__', true);
      assert.deepEqual(v.refusal('gh__x__t')?.data, { tool: 'gh__x__t', backend: 'ghx', backendTool: 't' });
      assert.deepEqual(v.refusal('gh__t')?.data, { tool: 'gh__t', backend: 'gh', backendTool: 't' });
    }
  });

  it('its own view refuses any name', () => {
    const v = new View('backend:my.api', [late], '__', false);
    assert.deepEqual(v.withheld('fetch'), { backend: 'my.api', name: 'fetch', ...notYetUp });
  });

  it('a backend up (no notYetUp) has unknown names stay unknown', () => {
    const v = new View('aggregate', [up, { ...late, notYetUp: undefined }], '__', true);
    assert.equal(v.refusal('my_api__fetch'), undefined);
  });
});
