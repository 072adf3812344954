/**
 * Attacks on the gateway's token-exchange client from a hostile or broken authorization
 * server (a real node:http server on 127.0.0.1): a huge answer, a slow one, a redirect
 * that would carry the caller's token elsewhere, an issued token that would split the
 * backend's header, an error description that echoes the caller's token. And the
 * caller's and issued tokens never appear in a log line (debug level, captured).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ANONYMOUS, type Principal } from '../../src/auth/principal.js';
import { tokenExchangeSchema } from '../../src/config/credentials.js';
import { GatewayError } from '../../src/errors/catalog.js';
import { createLogger } from '../../src/observability/logger.js';
import { MAX_TOKEN_RESPONSE_BYTES } from '../../src/upstream/credentials/exchange.js';
import { tokenExchangeSource } from '../../src/upstream/credentials/token-exchange.js';

const SUBJECT = 'subject-token-of-alice-0123456789';
const ISSUED = 'issued-token-for-the-backend-987654';
const alice: Principal = { ...ANONYMOUS, id: 'oauth:https://as.example#alice', kind: 'oauth', subject: 'alice', accessToken: () => SUBJECT };

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe('security: token exchange against a hostile authorization server', () => {
  let base: string;
  let handler: Handler = () => {};
  const hits: Record<string, number> = {};
  const lines: string[] = [];
  const log = createLogger('debug', { write: (s: string) => void lines.push(s) });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits[req.url ?? ''] = (hits[req.url ?? ''] ?? 0) + 1;
      handler(req, res, Buffer.concat(chunks).toString());
    });
  });
  const source = (extra: Record<string, unknown> = {}) =>
    tokenExchangeSource(
      'api',
      tokenExchangeSchema.parse({ type: 'token_exchange', token_endpoint: `${base}/token`, client_id: 'gw', audience: 'https://api.example', timeout: '500ms', ...extra }),
      'gw-secret',
      log,
    );
  const refused = (pattern: RegExp) => (e: unknown) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.equal(e.code, 'MCPEG_ERR_UPSTREAM_CREDENTIAL');
    assert.match(e.message, pattern);
    assert.ok(!JSON.stringify(e.toJsonRpc()).includes(SUBJECT), 'the error carries no token');
    return true;
  };

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    // Nothing secret was ever logged, whatever happened above.
    const all = lines.join('\n');
    assert.ok(
      lines.some((l) => l.includes('token exchanged')),
      'the debug line of a successful exchange was captured',
    );
    for (const secret of [SUBJECT, ISSUED, 'gw-secret']) assert.ok(!all.includes(secret), `${secret} appeared in the log`);
  });

  it('sends the RFC 8693 form with HTTP Basic client authentication, and uses what comes back', async () => {
    let form: URLSearchParams | undefined;
    let authorization: string | undefined;
    handler = (req, res, body) => {
      form = new URLSearchParams(body);
      authorization = req.headers.authorization;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: ISSUED, token_type: 'Bearer', expires_in: 120 }));
    };
    const c = await source({ resource: 'https://api.example/v1', scope: 'a b' }).resolve(alice);
    assert.deepEqual(c?.headers, { authorization: `Bearer ${ISSUED}` });
    assert.equal(form?.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
    assert.equal(form?.get('subject_token'), SUBJECT);
    assert.equal(form?.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(form?.get('audience'), 'https://api.example');
    assert.equal(form?.get('resource'), 'https://api.example/v1');
    assert.equal(form?.get('scope'), 'a b');
    assert.equal(form?.get('client_secret'), null, 'client_secret_basic: no secret in the form');
    assert.equal(authorization, `Basic ${Buffer.from('gw:gw-secret').toString('base64')}`);
    // Another header and a bare value (api-key style).
    const k = await source({ header: 'X-Api-Key', scheme: '' }).resolve({ ...alice, accessToken: () => `${SUBJECT}-2` });
    assert.deepEqual(k?.headers, { 'x-api-key': ISSUED });
  });

  it('a huge answer is cut off at the bound, not buffered', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"access_token":"${'a'.repeat(MAX_TOKEN_RESPONSE_BYTES)}`);
      // Keep streaming: the client must stop reading by itself.
      const t = setInterval(() => (res.writable ? res.write('a'.repeat(65536)) : clearInterval(t)), 5);
      res.on('close', () => clearInterval(t));
    };
    await assert.rejects(source().resolve(alice), refused(/answered more than 65536 bytes/));
  });

  it('a slow server is given up on at the timeout', async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    await assert.rejects(source().resolve(alice), refused(/did not answer within 500 ms/));
    assert.ok(Date.now() - started < 3000);
  });

  it("a redirect is not followed: the caller's token does not go to where the server points", async () => {
    handler = (req, res) => {
      if (req.url === '/token') res.writeHead(307, { location: `${base}/elsewhere` }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: ISSUED }));
    };
    await assert.rejects(source().resolve(alice), refused(/refused \(HTTP 307\)/));
    assert.equal(hits['/elsewhere'], undefined);
  });

  it("an issued token that would split or fold the backend's header is refused", async () => {
    for (const bad of [`${ISSUED}\r\nX-Injected: 1`, `${ISSUED} extra`, '']) {
      handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: bad, token_type: 'Bearer' }));
      await assert.rejects(source().resolve(alice), refused(bad ? /cannot go in an HTTP header/ : /without an access_token/));
    }
  });

  it("an error description echoing the caller's token is shown without it; a non-JSON answer is named", async () => {
    handler = (_req, res) =>
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', error_description: `bad subject_token ${SUBJECT}\u0007\n!` }));
    await assert.rejects(source().resolve(alice), refused(/refused \(HTTP 400\): invalid_grant \(bad subject_token \[redacted\]/));
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
    await assert.rejects(source().resolve(alice), refused(/answered text\/html, not a JSON token response/));
  });

  it('an unreachable server is named', async () => {
    const s = tokenExchangeSource(
      'api',
      tokenExchangeSchema.parse({ type: 'token_exchange', token_endpoint: 'http://127.0.0.1:1/token', client_id: 'gw', audience: 'x' }),
      undefined,
      log,
    );
    await assert.rejects(s.resolve(alice), refused(/could not be reached: ECONNREFUSED/));
  });
});
