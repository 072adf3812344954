/**
 * The text of the smallest stdio MCP backend, for a test to write to a `.mjs` file and name
 * as a backend's `command`: it answers `initialize`, lists one tool `t`, and answers any
 * other request with an empty result. Newline-delimited JSON-RPC on stdin and stdout.
 */
export const MINIMAL_STDIO_BACKEND = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'b', version: '1' } } });
  else if (m.method === 'tools/list') send({ id: m.id, result: { tools: [{ name: 't', inputSchema: { type: 'object' } }] } });
  else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;
