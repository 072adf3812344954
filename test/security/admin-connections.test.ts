/**
 * Attack: connections to the admin listener, which serves its console files without a key.
 * It had no connection bound (the MCP listener has server.max_connections): a client able
 * to reach it could hold descriptors without end, which the MCP listener needs too. Now
 * admin.max_connections bounds them; more are closed as they arrive, and the MCP endpoint
 * and a keyed admin request on a held connection are served meanwhile.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startGateway } from '../helpers/gateway.js';

/** Opens a connection; resolves once it is connected, with whether the server closed it within `ms`. */
function open(host: string, port: number, ms: number): Promise<{ sock: Socket; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, host);
    sock.on('error', () => {});
    sock.once('connect', () => {
      const t = setTimeout(() => resolve({ sock, closed: false }), ms);
      sock.once('close', () => {
        clearTimeout(t);
        resolve({ sock, closed: true });
      });
    });
  });
}

/** One request written raw on `sock`; its status line. */
function statusOn(sock: Socket, head: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const i = text.indexOf('\r\n');
      if (i >= 0) resolve(text.slice(0, i));
    });
    sock.write(head);
  });
}

describe('attack: connections held on the admin listener', { timeout: 60_000 }, () => {
  const socks: Socket[] = [];
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  after(async () => {
    for (const s of socks) s.destroy();
    await gw?.close();
  });

  it('past admin.max_connections a new connection is closed as it arrives; held ones and the MCP endpoint are served', async () => {
    gw = await startGateway({ backends: {}, admin: { enabled: true, host: '127.0.0.1', port: 0, insecure_no_auth: true, max_connections: 5 } });
    const { hostname, port } = new URL(gw.adminUrl!);
    for (let i = 0; i < 5; i++) {
      const c = await open(hostname, Number(port), 300);
      socks.push(c.sock);
      assert.equal(c.closed, false, `connection ${i + 1} of 5 is kept`);
    }
    for (let i = 0; i < 20; i++) {
      const c = await open(hostname, Number(port), 2000);
      socks.push(c.sock);
      assert.equal(c.closed, true, `connection ${i + 6} is closed on arrival`);
    }
    assert.equal(await statusOn(socks[0]!, `GET /admin/me HTTP/1.1\r\nhost: ${hostname}:${port}\r\n\r\n`), 'HTTP/1.1 200 OK');
    assert.equal((await fetch(`${gw.base}/health/live`)).status, 200);
    // A held connection that goes makes room for a new one.
    socks[1]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await open(hostname, Number(port), 500);
    socks.push(again.sock);
    assert.equal(again.closed, false);
  });
});
