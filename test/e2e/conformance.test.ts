/**
 * The official conformance suite (@modelcontextprotocol/conformance, server scenarios)
 * against per-backend endpoints of the gateway: the active suite (2025-11-25 wire) in
 * front of the SDK v1 fixture, and every scenario of the 2026-07-28 (stateless) wire in
 * front of the SDK v2 fixture, both over stdio. The suite needs Node 22; the node@22 package provides it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ROOT, startGateway } from '../helpers/gateway.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/conformance-server.js', import.meta.url));
const MODERN = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));

function runSuite(url: string, args: string[] = []): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', [`${ROOT}scripts/conformance.sh`, url, ...args], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` });
    });
  });
}

describe('conformance suite through the gateway', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;

  before(async () => {
    gw = await startGateway({
      backends: {
        conformance: { type: 'mcp', command: process.execPath, args: [FIXTURE, '--stdio'] },
        // An SDK v2 server: the gateway speaks 2026-07-28 to it (server/discover), and serves the stateless suite from it.
        modern: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'] },
      },
    });
  });
  after(async () => gw?.close());

  it('passes every 2026-07-28 server scenario (stateless wire) in front of an SDK v2 backend at /servers/modern/mcp', async () => {
    const { code, out } = await runSuite(`${gw.base}/servers/modern/mcp`, ['--suite', 'all', '--spec-version', '2026-07-28']);
    const total = /Total: (\d+) passed, (\d+) failed/.exec(out);
    assert.ok(total, `no summary in conformance output:\n${out}`);
    const scenarios = out.split('\n').filter((l) => /^[✓✗] /.test(l));
    console.log(`conformance 2026-07-28: ${scenarios.length} scenarios, ${total[1]} checks passed, ${total[2]} failed`);
    assert.equal(code, 0, out);
    assert.equal(total[2], '0', out);
    for (const s of ['server-stateless', 'caching', 'http-header-validation', 'input-required-result-basic-sampling', 'input-required-result-tampered-state']) {
      assert.ok(
        scenarios.some((l) => l.startsWith(`✓ ${s}:`)),
        `${s} ran and passed:\n${out}`,
      );
    }
    assert.ok(scenarios.length >= 40, `expected the 40 scenarios of the 2026-07-28 wire, saw ${scenarios.length}`);
  });

  it('passes every active server scenario at /servers/conformance/mcp', async () => {
    const { code, out } = await runSuite(`${gw.base}/servers/conformance/mcp`);
    const total = /Total: (\d+) passed, (\d+) failed/.exec(out);
    assert.ok(total, `no summary in conformance output:\n${out}`);
    const scenarios = out.split('\n').filter((l) => /^[✓✗] /.test(l));
    console.log(`conformance: ${scenarios.length} scenarios, ${total[1]} checks passed, ${total[2]} failed`);
    assert.equal(code, 0, out);
    assert.equal(total[2], '0', out);
    assert.ok(scenarios.length >= 30, `expected the 30 active scenarios, saw ${scenarios.length}`);
    assert.ok(
      scenarios.every((l) => l.startsWith('✓')),
      out,
    );
  });
});
