/**
 * The official conformance suite (@modelcontextprotocol/conformance, server scenarios,
 * pinned in tools/conformance) in front of three kinds of server: an SDK v1 server
 * (initialize only), an SDK v2 server offering both lifecycles (2026-07-28 and
 * initialize), and the same SDK v2 server refusing initialize (2026-07-28 only). Each runs
 * as its own process over Streamable HTTP; the suite runs against it directly, then
 * through the gateway at /servers/<name>/mcp, in front of that same process and of a
 * stdio instance of the same program, with the 2025-11-25 active suite and the
 * 2026-07-28 requirements. Transparency is the claim: through the gateway at least as
 * many checks pass as directly (compared, not counted against a fixed number).
 * The suite needs Node 22; the node@22 package in tools/conformance provides it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ROOT, startGateway } from '../helpers/gateway.js';

const V1 = fileURLToPath(new URL('../fixtures/conformance-server.js', import.meta.url));
const V2 = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));

interface Run {
  passed: number;
  failed: number;
  /** `name: X passed, Y failed` per scenario, for messages. */
  scenarios: Map<string, string>;
  out: string;
}

function runSuite(url: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', [`${ROOT}scripts/conformance.sh`, url, ...args], { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (_err, stdout, stderr) => {
      const out = `${stdout}\n${stderr}`;
      const total = /Total: (\d+) passed, (\d+) failed/.exec(out);
      const scenarios = new Map<string, string>();
      for (const m of out.matchAll(/^[✓✗] ([^:\n]+): (.*)$/gm)) scenarios.set(m[1], m[2]);
      resolve({ passed: total ? Number(total[1]) : -1, failed: total ? Number(total[2]) : -1, scenarios, out });
    });
  });
}

/** Scenarios whose results differ between two runs: what to look at when the comparison fails. */
function differences(direct: Run, via: Run): string {
  const names = new Set([...direct.scenarios.keys(), ...via.scenarios.keys()]);
  return [...names]
    .filter((n) => direct.scenarios.get(n) !== via.scenarios.get(n))
    .map((n) => `  ${n}: directly ${direct.scenarios.get(n) ?? 'not run'}, through the gateway ${via.scenarios.get(n) ?? 'not run'}`)
    .join('\n');
}

/** A fixture as its own process on 127.0.0.1, port 0 (it prints `listening <port>`). */
async function serveOverHttp(program: string, args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [program, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${program} did not start`)), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code) => reject(new Error(`${program} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/mcp`, proc };
}

const SUITES = {
  '2025-11-25 active suite': [],
  '2026-07-28 requirements': ['--requirements', '2026-07-28'],
} as const;

const FIXTURES = [
  { name: 'v1', what: 'an SDK v1 server (initialize only)', program: V1, http: [], stdio: ['--stdio'] },
  { name: 'dual', what: 'an SDK v2 server offering both lifecycles', program: V2, http: ['--legacy', 'sessionful'], stdio: ['--stdio'] },
  { name: 'stateless', what: 'an SDK v2 server offering 2026-07-28 only', program: V2, http: ['--legacy', 'reject'], stdio: ['--stdio', '--modern-only'] },
];

describe('conformance: through the gateway at least as many checks pass as directly', { concurrency: 2 }, () => {
  for (const f of FIXTURES) {
    describe(f.what, () => {
      let server: Awaited<ReturnType<typeof serveOverHttp>>;
      let gw: Awaited<ReturnType<typeof startGateway>>;
      before(async () => {
        server = await serveOverHttp(f.program, f.http);
        gw = await startGateway({
          backends: {
            [f.name]: { type: 'mcp', url: server.url },
            [`${f.name}-stdio`]: { type: 'mcp', command: process.execPath, args: [f.program, ...f.stdio] },
          },
        });
      });
      after(async () => {
        await gw?.close();
        server?.proc.kill();
      });

      for (const [suite, args] of Object.entries(SUITES)) {
        it(suite, async () => {
          const direct = await runSuite(server.url, [...args]);
          assert.ok(direct.passed > 0, `the suite ran against the fixture directly:\n${direct.out}`);
          for (const name of [f.name, `${f.name}-stdio`]) {
            const via = await runSuite(`${gw.base}/servers/${name}/mcp`, [...args]);
            console.log(`conformance ${suite}, ${f.what}: directly ${direct.passed} passed / ${direct.failed} failed; through /servers/${name}/mcp ${via.passed} / ${via.failed}`);
            assert.ok(via.passed >= 0, `no summary through /servers/${name}/mcp:\n${via.out}`);
            assert.ok(via.passed >= direct.passed, `${suite}: ${via.passed} checks pass through /servers/${name}/mcp, ${direct.passed} directly:\n${differences(direct, via)}`);
          }
        });
      }
    });
  }
});
