/**
 * GET /admin/audit under a flood of refused writes: anyone reaching the admin listener can
 * cause a refusal (no key at all, or a viewer's key), and those lines must not push the
 * changes an admin made out of what the console's audit page shows.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { ROOT } from '../helpers/gateway.js';

const ADMIN_KEY = randomBytes(24).toString('hex');
const VIEWER_KEY = randomBytes(24).toString('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('admin audit lines under a flood of refusals', () => {
  let served: Served | undefined;
  let base = '';
  before(async () => {
    served = await serve(
      validateConfig(
        {
          server: { host: '127.0.0.1', port: 0 },
          logging: { level: 'error' },
          admin: {
            enabled: true,
            host: '127.0.0.1',
            port: 0,
            keys: [
              { name: 'ops-admin', role: 'admin', sha256: sha256(ADMIN_KEY) },
              { name: 'dash-viewer', role: 'viewer', sha256: sha256(VIEWER_KEY) },
            ],
          },
          plugins: [{ name: 'hello', module: join(ROOT, 'examples/plugins/hello-plugin.mjs'), config: { greeting: 'Hi' } }],
        },
        'test',
      ),
      { logger: createLogger('silent') },
    );
    base = served.adminUrl!;
  });
  after(async () => {
    await served?.close();
  });

  const post = async (key: string | null, body: unknown) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers['x-admin-api-key'] = key;
    const r = await fetch(`${base}/tools/call`, { method: 'POST', headers, body: JSON.stringify(body) });
    await r.arrayBuffer();
    return r.status;
  };

  it("600 refusals without a key and 600 with a viewer's key leave the admin's change in GET /admin/audit", async () => {
    assert.equal(await post(ADMIN_KEY, { name: 'hello__greet', arguments: { name: 'Audit' } }), 200);
    for (let i = 0; i < 600; i++) assert.equal(await post(null, { name: 'hello__greet' }), 401);
    for (let i = 0; i < 600; i++) assert.equal(await post(VIEWER_KEY, { name: 'hello__greet' }), 403);
    const r = await fetch(`${base}/audit`, { headers: { 'x-admin-api-key': VIEWER_KEY } });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { entries: Array<{ who: string | null; status: number; route: string; at: string }>; kept: number; max: number };
    const done = body.entries.filter((e) => e.status < 400);
    assert.equal(done.length, 1, 'the change made is still shown');
    assert.equal(done[0]!.who, 'ops-admin');
    assert.equal(done[0]!.route, '/admin/tools/call');
    // Refusals are shown too, bounded: the newest ones, all from the viewer (the unauthenticated ones are older).
    const refused = body.entries.filter((e) => e.status >= 400);
    assert.equal(refused.length, body.max);
    assert.ok(refused.every((e) => e.who === 'dash-viewer'));
    assert.equal(body.kept, body.max + 1);
    assert.equal(body.entries.at(-1), done[0], 'newest first: the change is the oldest line');
  });
});
