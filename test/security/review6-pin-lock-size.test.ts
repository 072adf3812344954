/**
 * Review 6 (tool pinning), attacker: the backend, against the lock file's size. The
 * reader refuses a lock file over 64 MiB, and one that cannot be read stops the gateway
 * (and `mcpeg pin`). Definitions of up to 64 KiB (compact) are kept in the file, pretty
 * printed: an array nested a dozen levels deep takes one line per element, indented by
 * its depth, some 15 times its compact size. So ~80 such tools (a 5 MB listing) made the
 * gateway write, on first use, a lock file it would then refuse to read: the next start
 * failed. Now the writer keeps within the reader's limit (definitions left out, largest
 * first; the digests still pin every tool).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_LOCK_FILE_BYTES } from '../../src/pinning/lock-file.js';
import { type AdminGateway, startAdminGateway } from '../helpers/admin.js';
import { waitFor } from '../helpers/gateway.js';
import { pinBackend, runCli, writeState } from '../helpers/pins.js';

const TOOLS = 80;
const deepTool = (i: number) => ({
  name: `t${i}`,
  description: `tool ${i}`,
  inputSchema: { type: 'object', properties: { a: { items: { items: { items: { enum: new Array(30_000).fill(0) } } } } } },
});

describe('review6-pin: a backend cannot make the gateway write a lock file it refuses to read', () => {
  let g: AdminGateway;
  let lock: string;
  before(async () => {
    g = await startAdminGateway((dir) => ({
      pinning: { mode: 'block' },
      backends: {
        big: pinBackend(
          writeState(
            dir,
            Array.from({ length: TOOLS }, (_, i) => deepTool(i)),
          ),
          { timeout: 60_000 },
        ),
      },
    }));
    lock = join(g.dir, 'mcpeg.lock.json');
    await waitFor(() => existsSync(lock), 'the lock file written on first use', 60_000, 200);
  });
  after(async () => {
    await g?.close();
  });

  it('the lock file written on first use stays readable: every tool pinned by digest, within the limit', async () => {
    const size = statSync(lock).size;
    assert.ok(size <= MAX_LOCK_FILE_BYTES, `lock file of ${size} bytes, over the ${MAX_LOCK_FILE_BYTES} its reader accepts`);
    const tools = JSON.parse(readFileSync(lock, 'utf8')).backends.big.tools;
    assert.equal(Object.keys(tools).length, TOOLS + 1, 'every tool (and mutate) is pinned');
    assert.ok(
      Object.values(tools).some((t: any) => t.definition === undefined && /^sha256:/.test(t.digest)),
      'some definitions were left out',
    );
    assert.ok(!g.lines.some((l) => l.includes('tool pins not reloaded')), 'the gateway reads its own lock file back');
  });

  it('`mcpeg pin status` (as the next start) reads it, and every tool matches its pin', async () => {
    const r = await runCli(['pin', 'status', '--config', g.file]);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 500));
  });
});
