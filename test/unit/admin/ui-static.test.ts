/** The console's file server: contained by real path (a symlink out of the build folder is not followed), dot segments refused. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveConsole } from '../../../src/admin/ui-static.js';

describe('serveConsole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-ui-'));
  const root = join(dir, 'ui');
  let server: Server;
  let base: string;

  before(async () => {
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(root, 'assets', 'app-abc123.js'), 'export {}');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'assets', 'leak.js'));
    symlinkSync(dir, join(root, 'up'));
    server = createServer((req, res) => void serveConsole(req, res, new URL(req.url!, 'http://x').pathname, root));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('serves index.html (no-cache) and hashed assets (immutable) with their types', async () => {
    const i = await fetch(`${base}/admin/ui/`);
    assert.equal(i.status, 200);
    assert.equal(i.headers.get('cache-control'), 'no-cache');
    assert.equal(i.headers.get('content-type'), 'text/html; charset=utf-8');
    const a = await fetch(`${base}/admin/ui/assets/app-abc123.js`);
    assert.equal(a.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(await a.text(), 'export {}');
  });

  it('follows no symlink out of the build folder and refuses dot segments', async () => {
    for (const p of [
      '/admin/ui/assets/leak.js',
      '/admin/ui/up/secret.txt',
      '/admin/ui/assets/..%2f..%2fsecret.txt',
      '/admin/ui/%2e%2e/secret.txt',
      '/admin/ui/assets//app-abc123.js',
      '/admin/ui/assets',
    ]) {
      const r = await fetch(base + p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(await r.text(), /outside/);
    }
  });
});
