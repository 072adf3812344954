/**
 * Review of issue #14 item 2 (odd bodies on the admin API), as an attacker with an admin
 * key: a YAML body whose aliases expand past the parser's limit ("billion laughs") was
 * answered 500 MCPEG_ERR_INTERNAL and logged as a failure of the gateway; it is a bad
 * body (400 MCPEG_ERR_PARSE). Deep JSON and deep YAML were already 400.
 *
 * Also (not an attack, a rule that was missing): the memory plugin's max_total_bytes (a
 * limit, added with the quota) had no rule in admin/reach.ts, so changing it was refused
 * as a key of unknown reach.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAdminGateway, type AdminGateway } from '../helpers/admin.js';

const LAUGHS = ['a: &a [x, x, x, x, x, x, x, x, x]']
  .concat(['b', 'c', 'd', 'e', 'f', 'g'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`))
  .concat('h: [*g, *g, *g, *g, *g, *g, *g, *g, *g]')
  .join('\n');

describe('review: odd admin bodies are refused as bad bodies', () => {
  let g: AdminGateway;
  before(async () => {
    g = await startAdminGateway({ plugins: [{ name: 'memory' }] });
  });
  after(() => g?.close());

  it('a YAML alias bomb: 400 MCPEG_ERR_PARSE, nothing changed', async () => {
    const r = await g.admin('PUT', '/admin/config', LAUGHS, { type: 'application/yaml' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.code, 'MCPEG_ERR_PARSE');
    assert.ok(!g.lines.some((l) => l.includes('admin request failed')), 'logged as a failure of the gateway');
  });

  it('JSON nested 200000 deep: 400', async () => {
    const r = await g.admin('PUT', '/admin/config', '['.repeat(200_000) + ']'.repeat(200_000));
    assert.equal(r.status, 400, r.text);
  });

  it('PUT /admin/plugins/memory/config changing max_total_bytes (a limit) is allowed', async () => {
    const r = await g.admin('PUT', '/admin/plugins/memory/config', { max_total_bytes: 100_000 });
    assert.equal(r.status, 200, r.text);
  });
});
