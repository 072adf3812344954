/**
 * `protocol: auto` in front of stdio servers that never answer server/discover before
 * initialize: one that ignores unknown requests, one that exits on them. The probe waits
 * `probe_timeout` (the SDK v2 client's rule on stdio: no answer means legacy), then the
 * server is started again and initialized; the process that serves is a fresh one that
 * never saw the probe.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';

const LEGACY = fileURLToPath(new URL('../fixtures/legacy-stdio-server.js', import.meta.url));

describe('protocol: auto with stdio servers that do not answer server/discover', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;

  before(async () => {
    gw = await startGateway({
      backends: {
        silent: { type: 'mcp', command: process.execPath, args: [LEGACY], probe_timeout: '500ms' },
        strict: { type: 'mcp', command: process.execPath, args: [LEGACY, '--exit-on-unknown'], probe_timeout: '500ms' },
      },
    });
  });
  after(async () => gw?.close());

  for (const name of ['silent', 'strict']) {
    it(`starts "${name}" with initialize on a fresh process and serves its tools`, async () => {
      const b = await waitFor(() => (gw.gw.registry.backend(name)?.state === 'up' ? gw.gw.registry.backend(name) : undefined), `${name} up`, 10_000);
      assert.equal(b.stateless, false);
      assert.equal(b.info?.protocolVersion, '2025-11-25');
      const client = await connectClient(`${gw.base}/servers/${name}/mcp`);
      try {
        const text = textOf(await client.callTool({ name: 'pid', arguments: {} }));
        // The per-client session's process was never probed; the catalog's neither (it was started again).
        assert.match(text, /^legacy pid=\d+ probes=0$/);
        const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; state: string; protocol?: string }> };
        assert.deepEqual(
          health.backends.filter((x) => x.name === name).map((x) => [x.state, x.protocol]),
          [['up', '2025-11-25']],
        );
      } finally {
        await client.close();
      }
    });
  }
});
