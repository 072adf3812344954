/** Tool-pinning tests: the pin-server fixture's state file, and `mcpeg pin` run as a process. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from './gateway.js';

export const PIN_SERVER = fileURLToPath(new URL('../fixtures/pin-server.js', import.meta.url));

export type ToolDef = Record<string, unknown>;

export const greet = (description = 'Greets someone by name', extra: ToolDef = {}): ToolDef => ({
  name: 'greet',
  description,
  inputSchema: { type: 'object', properties: { who: { type: 'string' } }, required: ['who'] },
  annotations: { readOnlyHint: true },
  ...extra,
});

/** Writes the tools a pin-server serves (its PIN_STATE file); returns the file. */
export function writeState(dir: string, tools: ToolDef[], name = 'state.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ tools }));
  return file;
}

/** A backend entry running the pin-server on `state`. */
export const pinBackend = (state: string, extra: Record<string, unknown> = {}) => ({
  type: 'mcp',
  command: process.execPath,
  args: [PIN_SERVER],
  env: { PIN_STATE: state },
  ...extra,
});

/** `mcpeg <args>` as a child process: its exit code and output. */
export function runCli(args: string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
