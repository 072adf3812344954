/**
 * server-everything (Streamable HTTP) behind an HTTP proxy of the test's own, which shapes how
 * each answer reaches the gateway (headers held, interim heads first), and a real `mcpeg gateway`
 * process whose backend `everything` is reached through that proxy.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGateway, startEverythingHttp, stopGateway } from './gateway.js';

export interface ProxyShape {
  /** Called as each request arrives, before it is passed on (an interim head, say). */
  onRequest?(req: IncomingMessage, res: ServerResponse): void;
  /** Writes the backend's answer's head to the client; the body is then piped. */
  writeHead(res: ServerResponse, answer: IncomingMessage): void;
}

export interface ProxiedEverything {
  /** The gateway's base URL (`…/servers/everything/mcp` is the backend's own endpoint). */
  base: string;
  /** GET requests the proxy has seen (the backend sessions' GET streams). */
  gets(): number;
  close(): Promise<void>;
}

export async function everythingBehindProxy(shape: ProxyShape): Promise<ProxiedEverything> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-everything-proxy-'));
  const remote = await startEverythingHttp();
  const target = new URL(remote.url);
  let gets = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') gets++;
    shape.onRequest?.(req, res);
    const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      shape.writeHead(res, answer);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${target.pathname}`;
  const config = join(dir, 'mcpeg.json');
  writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { everything: { type: 'mcp', url } } }));
  const gw = await spawnGateway(config).catch(async (err: unknown) => {
    server.close();
    await remote.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    base: gw.url.slice(0, -'/mcp'.length),
    gets: () => gets,
    close: async () => {
      await stopGateway(gw);
      server.closeAllConnections();
      server.close();
      await remote.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
