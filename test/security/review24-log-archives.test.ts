/**
 * Review 24. The CLI's log file is protected from file plugins (review 19's protected
 * paths: "the CLI's PID, state and log files"), but not the archives its rotation keeps
 * beside it (`FILE.1.gz` … `FILE.<keep>.gz`, written as `FILE.1.gz.tmp`). Where an editor
 * root holds the log's directory, a client deleted or moved the rotated logs — the audit
 * lines of admin changes and the warnings about its own requests with them — or planted an
 * archive of its own, or a directory where the next one is written (that rotation then
 * failed). Through a real `mcpeg gateway --log-file <root>/logs/mcpeg.log` process and
 * an official SDK client: after a SIGUSR1 rotation, each of those is refused (the editor's
 * protected-path error) and the archive stays.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CLI, connectClient, textOf, waitFor } from '../helpers/gateway.js';

describe('review 24: the log file archives under an editor root', () => {
  let dir: string;
  let ws: string;
  let proc: ChildProcess;
  let stderr = '';
  let client: Client;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r24-logs-'));
    ws = join(dir, 'workspace');
    mkdirSync(join(ws, 'logs'), { recursive: true });
    const config = join(dir, 'mcpeg.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, paths: { data: join(dir, 'data'), workspace: ws }, plugins: [{ name: 'editor' }] }));
    const args = [CLI, 'gateway', '--config', config, '--log-file', join(ws, 'logs', 'mcpeg.log'), '--log-max-size', '0', '--log-keep', '3'];
    proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-20_000)));
    const url = (await waitFor(() => /mcpeg listening on (http:\/\/\S+)/.exec(stderr)?.[1], 'the gateway listening', 20_000)) as string;
    client = await connectClient(url);
    await waitFor(async () => (await client.listTools()).tools.some((t) => t.name === 'editor__delete_file'), 'the editor', 30_000);
    proc.kill('SIGUSR1');
    await waitFor(() => existsSync(join(ws, 'logs', 'mcpeg.log.1.gz')), 'the rotated log', 10_000);
  });
  after(async () => {
    await client?.close().catch(() => {});
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (tool: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name: `editor__${tool}`, arguments: args });
    return { isError: r.isError === true, text: textOf(r) };
  };

  it('a client can neither delete, move nor plant a rotated log', async () => {
    const archive = join(ws, 'logs', 'mcpeg.log.1.gz');
    const del = await call('delete_file', { path: 'logs/mcpeg.log.1.gz', confirm: true });
    assert.ok(del.isError, `deleted: ${del.text}`);
    assert.match(del.text, /protect|process state/i);
    const mv = await call('move_file', { from: 'logs/mcpeg.log.1.gz', to: 'moved.gz' });
    assert.ok(mv.isError, `moved: ${mv.text}`);
    assert.ok(existsSync(archive), 'the archive is still there');
    const planted = await call('write_file', { path: 'logs/mcpeg.log.3.gz', content: 'forged' });
    assert.ok(planted.isError, `planted: ${planted.text}`);
    assert.ok(!existsSync(join(ws, 'logs', 'mcpeg.log.3.gz')));
    const blocker = await call('write_file', { path: 'logs/mcpeg.log.1.gz.tmp/x', content: 'x', create_dirs: true });
    assert.ok(blocker.isError, `blocked the next archive: ${blocker.text}`);
    // Files beside them are the client's as before.
    assert.equal((await call('write_file', { path: 'logs/notes.txt', content: 'ok' })).isError, false);
  });
});
