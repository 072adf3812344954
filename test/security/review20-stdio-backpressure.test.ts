/**
 * `mcpeg stdio` and a client that writes but does not read (review 20). Every line is
 * answered (a line that is not JSON with a Parse error), and the gateway kept reading its
 * stdin whatever stdout held: answers the client did not take piled up in the gateway's
 * memory, ~400 bytes of it per 2-byte line "x\n" (1 MiB written, ~210 MiB held), without
 * bound. Now stdout's backpressure is honoured: while the client has not taken what was
 * written, stdin is not read, so the client's own writes stop. When it reads again, every
 * line is answered, in order. Against a real `mcpeg stdio` process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ROOT } from '../helpers/gateway.js';

const MiB = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('mcpeg stdio: a client that does not read its answers (review 20)', () => {
  let proc: ChildProcessWithoutNullStreams;
  let stderr = '';

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-stdio-bp-'));
    const config = join(dir, 'mcpeg.yaml');
    const hello = join(ROOT, 'examples/plugins/hello-plugin.mjs');
    writeFileSync(config, `paths: { data: ./data, workspace: ./workspace }\nplugins:\n  - name: hello\n    module: ${hello}\n`);
    proc = spawn(process.execPath, [CLI, 'stdio', '--config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-20_000)));
    // The gateway is up when it answers a ping; then stdout is not read until the end.
    proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'up', method: 'ping' })}\n`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ping; stderr: ${stderr.slice(-1500)}`)), 20_000);
      let out = '';
      const onData = (d: Buffer) => {
        out += String(d);
        if (!out.includes('\n')) return;
        clearTimeout(t);
        proc.stdout.off('data', onData);
        proc.stdout.pause();
        resolve();
      };
      proc.stdout.on('data', onData);
    });
  });

  after(() => {
    proc?.kill('SIGKILL');
  });

  it('writes stop being taken instead of the gateway holding the answers; read again, every line is answered in order', async () => {
    await new Promise((r) => setTimeout(r, 500));
    const before = rssBytes(proc.pid!);
    const chunk = Buffer.from('x\n'.repeat(32 * 1024)); // 64 KiB: 32,768 lines, each a Parse error
    let written = 0;
    let blocked = false;
    const deadline = Date.now() + 12_000;
    while (written < 2 * MiB && Date.now() < deadline) {
      if (!proc.stdin.write(chunk)) {
        // Not taken within 3 s: the gateway holds its input back (what the fix does).
        blocked = !(await Promise.race([new Promise<boolean>((r) => proc.stdin.once('drain', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]));
      }
      written += chunk.length;
      if (blocked) break;
    }
    const grown = rssBytes(proc.pid!) - before;
    assert.ok(grown < 48 * MiB, `the gateway grew by ${Math.round(grown / MiB)} MiB holding answers to ${written / MiB} MiB of input nobody read`);
    assert.ok(blocked, `the gateway kept taking input (${written / MiB} MiB) while its answers were not read`);

    // Reading again: every line written is answered (a Parse error each, id null), then the ping after them.
    const lines = written / 2;
    proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'last', method: 'ping' })}\n`);
    let errors = 0;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${errors} of ${lines} answers, then nothing; stderr: ${stderr.slice(-1500)}`)), 60_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += String(d);
        let nl: number;
        while ((nl = out.indexOf('\n')) >= 0) {
          const m = JSON.parse(out.slice(0, nl)) as { id: unknown; error?: { code: number } };
          out = out.slice(nl + 1);
          if (m.id === 'last') {
            clearTimeout(t);
            return resolve();
          }
          assert.equal(m.error?.code, -32700);
          errors++;
        }
      });
      proc.stdout.resume();
    });
    assert.equal(errors, lines, 'one answer for each line, all before the ping written after them');
  });
});
