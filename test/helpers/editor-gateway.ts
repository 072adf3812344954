/**
 * What the protected-path attack tests share: a real `mcpeg gateway` process whose config
 * serves the editor plugin, with an official SDK client connected once the editor's tools
 * are listed; and the smallest Kubernetes API a discovery source connects to (its
 * credential plugin runs at each connect), for attacks on what a kubeconfig names.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, type GatewayProcess, spawnGateway, textOf, waitFor } from './gateway.js';

export interface EditorGateway {
  g: GatewayProcess;
  client: Client;
  /** Calls an editor tool (`write_file`, `read_file`, ...). */
  call(tool: string, args: Record<string, unknown>): Promise<{ isError: boolean; text: string }>;
  close(): Promise<void>;
}

/** Starts the gateway on config file `file` (which must serve the editor plugin) and connects a client. */
export async function spawnEditorGateway(file: string): Promise<EditorGateway> {
  const g = await spawnGateway(file);
  try {
    const client = await connectClient(g.url);
    await waitFor(async () => (await client.listTools()).tools.some((t) => t.name === 'editor__write_file'), 'the editor', 30_000);
    return {
      g,
      client,
      async call(tool, args) {
        const r = await client.callTool({ name: `editor__${tool}`, arguments: args });
        return { isError: r.isError === true, text: textOf(r) };
      },
      async close() {
        await client.close().catch(() => {});
        g.proc.kill('SIGKILL');
      },
    };
  } catch (err) {
    g.proc.kill('SIGKILL');
    throw err;
  }
}

/**
 * A Kubernetes API that lists no EndpointSlices and ends every watch at once (test/helpers/kube-api.ts
 * reproduces more of it): enough for a discovery source to connect, and so to run its
 * kubeconfig's credential plugin, again and again.
 */
export async function startEmptyKubeApi(): Promise<{ url: string; close(): void }> {
  const api = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (new URL(req.url ?? '/', 'http://x').searchParams.get('watch') === 'true') return void res.end();
    res.end(JSON.stringify({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: '1' }, items: [] }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    close() {
      api.closeAllConnections();
      api.close();
    },
  };
}
