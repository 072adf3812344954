/**
 * Issue #14 item 6: DNS rebinding on health and metrics. A page on attacker.example that
 * rebinds its name to 127.0.0.1 makes the browser send `Host: attacker.example` (and its
 * own Origin) to the gateway. Every endpoint — /health, /health/ready, /health/live,
 * /metrics, unknown paths, the MCP endpoints — must refuse it, as the MCP endpoints did.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));

/** A raw GET with the headers a rebinding browser would send (fetch cannot set Host). */
function get(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PATHS = ['/health', '/health/ready', '/health/live', '/metrics', '/nowhere', '/mcp', '/sse', '/servers/abuse/mcp'];

describe('DNS rebinding: every endpoint checks Host and Origin', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let port: string;
  before(async () => {
    gw = await startGateway({ backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } });
    port = new URL(gw.base).port;
  });
  after(() => gw.close());

  for (const path of PATHS) {
    it(`${path}: a foreign Host is refused with 403 and nothing of the gateway's state`, async () => {
      const r = await get(gw.base, path, { host: `attacker.example:${port}`, accept: 'application/json, text/event-stream' });
      assert.equal(r.status, 403, r.body);
      assert.match(r.body, /MCPEG_ERR_HOST_FORBIDDEN/);
      assert.doesNotMatch(r.body, /mcpeg_|"backends"|"status":"ok"/);
    });

    it(`${path}: a foreign Origin is refused with 403`, async () => {
      const r = await get(gw.base, path, { host: `127.0.0.1:${port}`, origin: 'http://attacker.example', accept: 'application/json, text/event-stream' });
      assert.equal(r.status, 403, r.body);
      assert.match(r.body, /MCPEG_ERR_ORIGIN_FORBIDDEN/);
    });
  }

  it('the same endpoints answer a loopback Host (the check is not a blanket refusal)', async () => {
    for (const path of ['/health', '/health/ready', '/health/live', '/metrics']) {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
        const r = await get(gw.base, path, { host });
        assert.equal(r.status, 200, `${path} with Host ${host}: ${r.body}`);
      }
    }
  });

  it('a Host that starts with a loopback name but is not name[:port], or is empty, is refused (it was read as the loopback name, or not checked)', async () => {
    for (const host of [
      '[::1]attacker.example',
      `[::1]attacker.example:${port}`,
      'localhost:attacker.example',
      '127.0.0.1:80@attacker.example',
      'localhost\\attacker.example',
      `localhost:${port}:1`,
    ]) {
      for (const path of ['/health', '/metrics', '/mcp']) {
        const r = await get(gw.base, path, { host, accept: 'application/json, text/event-stream' });
        assert.equal(r.status, 403, `${path} with Host ${host}: ${r.body}`);
        assert.match(r.body, /MCPEG_ERR_HOST_FORBIDDEN/);
      }
    }
    // An empty Host (node's client would put its own in: a raw request).
    const empty = await raw(port, 'GET /health HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n');
    assert.match(empty, /^HTTP\/1\.1 403 /, empty);
    assert.match(empty, /MCPEG_ERR_HOST_FORBIDDEN/);
    for (const host of [`[::1]:${port}`, '[::1]', 'LOCALHOST', `127.0.0.1:`]) assert.equal((await get(gw.base, '/health', { host })).status, 200, `Host ${host}`);
  });

  it('a request with two Host lines is refused, whichever comes first (node kept the first and dropped the other)', async () => {
    const loopback = `127.0.0.1:${port}`;
    for (const hosts of [
      [loopback, `attacker.example:${port}`],
      [`attacker.example:${port}`, loopback],
      [loopback, loopback],
    ]) {
      for (const path of ['/health', '/metrics', '/mcp']) {
        const r = await raw(port, `GET ${path} HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}\r\n`).join('')}Accept: application/json, text/event-stream\r\nConnection: close\r\n\r\n`);
        assert.match(r, /^HTTP\/1\.1 403 /, `${path} with Host lines ${hosts.join(' / ')}: ${r}`);
        assert.match(r, /MCPEG_ERR_HOST_FORBIDDEN/);
        assert.doesNotMatch(r, /mcpeg_|"status":"ok"/);
      }
    }
    // One Host line, as every client sends: served.
    assert.match(await raw(port, `GET /health HTTP/1.1\r\nHost: ${loopback}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
  });

  it('an HTTP/1.0 request without Host is refused 400 (node requires Host of HTTP/1.1 only): the check cannot be skipped by leaving it out', async () => {
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    const post = (path: string) =>
      raw(port, `POST ${path} HTTP/1.0\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${init.length}\r\n\r\n${init}`);
    for (const path of ['/mcp', '/servers/abuse/mcp']) {
      const r = await post(path);
      // Served before: a session opened (200 with Mcp-Session-Id).
      assert.match(r, /^HTTP\/1\.[01] 400 /, `POST ${path}: ${r}`);
      assert.match(r, /MCPEG_ERR_HOST_REQUIRED/);
      assert.doesNotMatch(r, /mcp-session-id/i);
    }
    for (const path of ['/health', '/metrics', '/sse']) {
      const r = await raw(port, `GET ${path} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n`);
      assert.match(r, /^HTTP\/1\.[01] 400 /, `GET ${path}: ${r}`);
      assert.doesNotMatch(r, /mcpeg_|"status":"ok"/);
    }
    // With a Host line, HTTP/1.0 is served as before.
    assert.match(await raw(port, `GET /health HTTP/1.0\r\nHost: 127.0.0.1:${port}\r\n\r\n`), /^HTTP\/1\.[01] 200 /);
  });
});

/** What the gateway answers to `text` sent as it is on a fresh connection. */
function raw(port: string, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const sock = connect(Number(port), '127.0.0.1', () => sock.end(text));
    let got = '';
    sock
      .setEncoding('utf8')
      .on('data', (d: string) => (got += d))
      .on('end', () => resolve(got))
      .on('error', reject);
  });
}

describe('DNS rebinding with server.allowed_hosts', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let port: string;
  before(async () => {
    gw = await startGateway({ server: { allowed_hosts: ['gateway.internal'] } });
    port = new URL(gw.base).port;
  });
  after(() => gw.close());

  it('a listed name and loopback names (local probes) are served; any other name is refused on health and metrics', async () => {
    assert.equal((await get(gw.base, '/health', { host: `gateway.internal:${port}` })).status, 200);
    assert.equal((await get(gw.base, '/health/live', { host: 'localhost' })).status, 200);
    for (const path of ['/health', '/health/ready', '/metrics']) {
      const r = await get(gw.base, path, { host: `rebound.attacker.example:${port}` });
      assert.equal(r.status, 403, `${path}: ${r.body}`);
    }
  });
});

describe('allowed_hosts and allowed_origins as the operator writes them', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({
      server: {
        allowed_hosts: ['MCP.Example.COM', 'bücher.example', 'api.example:8443'],
        allowed_origins: ['https://Bücher.example/', 'HTTPS://App.Example.com:443'],
      },
    });
  });
  after(() => gw.close());

  it('names in any case, international names and a trailing slash match what clients send (lower case, ASCII, no path)', async () => {
    // Browsers and HTTP clients send the name in lower case and IDNA's ASCII form.
    for (const host of ['mcp.example.com', 'mcp.example.com:8080', 'xn--bcher-kva.example', 'api.example:8443', 'API.example:8443']) {
      assert.equal((await get(gw.base, '/health/live', { host })).status, 200, `Host ${host}`);
    }
    for (const host of ['api.example:9999', 'example.com', 'bücher.example.attacker']) {
      assert.equal((await get(gw.base, '/health/live', { host })).status, 403, `Host ${host}`);
    }
    for (const origin of ['https://xn--bcher-kva.example', 'https://app.example.com']) {
      assert.equal((await get(gw.base, '/health/live', { host: 'localhost', origin })).status, 200, `Origin ${origin}`);
    }
    assert.equal((await get(gw.base, '/health/live', { host: 'localhost', origin: 'http://app.example.com' })).status, 403);
  });

  it('an entry that is not a host name or an origin is a config error naming it', async () => {
    // A gateway that starts anyway is closed, so the test ends either way.
    const start = (server: Record<string, unknown>) => startGateway({ server }).then((g) => g.close());
    await assert.rejects(start({ allowed_hosts: ['mcp.example.com/path'] }), /server\.allowed_hosts\.0.*mcp\.example\.com\/path/s);
    await assert.rejects(start({ allowed_origins: ['app.example.com'] }), /server\.allowed_origins\.0.*app\.example\.com/s);
  });
});

describe('the admin API checks Host too', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let port: string;
  before(async () => {
    gw = await startGateway({ backends: {}, admin: { enabled: true, host: '127.0.0.1', port: 0, insecure_no_auth: true } });
    port = new URL(gw.adminUrl!).port;
  });
  after(() => gw.close());

  it('a request with two Host lines is refused (node kept the first), one loopback Host line is served', async () => {
    const loopback = `127.0.0.1:${port}`;
    for (const hosts of [
      [loopback, `attacker.example:${port}`],
      [`attacker.example:${port}`, loopback],
    ]) {
      const r = await raw(port, `GET /admin HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}\r\n`).join('')}Connection: close\r\n\r\n`);
      assert.match(r, /^HTTP\/1\.1 403 /, `Host lines ${hosts.join(' / ')}: ${r}`);
    }
    assert.match(await raw(port, `GET /admin HTTP/1.1\r\nHost: ${loopback}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
  });

  it('an HTTP/1.0 request without Host is refused 400 (it was served: the Host check skipped)', async () => {
    for (const path of ['/admin', '/admin/backends', '/']) {
      const r = await raw(port, `GET ${path} HTTP/1.0\r\n\r\n`);
      assert.match(r, /^HTTP\/1\.[01] 400 /, `GET ${path}: ${r}`);
      assert.match(r, /MCPEG_ERR_HOST_REQUIRED/);
    }
    assert.match(await raw(port, `GET /admin HTTP/1.0\r\nHost: 127.0.0.1:${port}\r\n\r\n`), /^HTTP\/1\.[01] 200 /);
  });
});
