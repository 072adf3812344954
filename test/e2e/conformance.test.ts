/**
 * The official conformance suite (@modelcontextprotocol/conformance, server scenarios,
 * active suite) against a per-backend endpoint of the gateway that fronts the conformance
 * fixture server over stdio. The suite needs Node 22; the node@22 package provides it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ROOT, startGateway } from '../helpers/gateway.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/conformance-server.js', import.meta.url));

function runSuite(url: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', [`${ROOT}scripts/conformance.sh`, url], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` });
    });
  });
}

describe('conformance suite through the gateway', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;

  before(async () => {
    gw = await startGateway({ backends: { conformance: { type: 'mcp', command: process.execPath, args: [FIXTURE, '--stdio'] } } });
  });
  after(async () => gw?.close());

  it('passes every active server scenario at /servers/conformance/mcp', async () => {
    const { code, out } = await runSuite(`${gw.base}/servers/conformance/mcp`);
    const total = /Total: (\d+) passed, (\d+) failed/.exec(out);
    assert.ok(total, `no summary in conformance output:\n${out}`);
    const scenarios = out.split('\n').filter((l) => /^[✓✗] /.test(l));
    console.log(`conformance: ${scenarios.length} scenarios, ${total[1]} checks passed, ${total[2]} failed`);
    assert.equal(code, 0, out);
    assert.equal(total[2], '0', out);
    assert.ok(scenarios.length >= 30, `expected the 30 active scenarios, saw ${scenarios.length}`);
    assert.ok(scenarios.every((l) => l.startsWith('✓')), out);
  });
});
