/**
 * Review 7 (authorization, attacker's view): a resource rule is written against a URI's
 * plain form (`file:///secret/**`), but a client chooses the URI text it sends, and a
 * backend resolves it (WHATWG URL, percent-decoding, dot segments) to the file it names.
 * Before the fix a deny rule was matched only against the text as sent, so under
 * `default: allow` `file:///public/../secret/key.txt`, `FILE:///secret/key.txt`,
 * `file:///%73ecret/key.txt` or `file:///secret/key.txt#x` read the denied file; and under
 * `default: deny` an allow on `file:///public/**` also let `file:///public/..%2Fsecret/key.txt`
 * through (its `..` is only a segment once decoded). Each URI is first shown to reach the
 * secret for a principal no rule restricts (the backend really resolves it), then refused
 * for the restricted one, over the real endpoint with the SDK client.
 *
 * Review 12 (finding 2): the resolved form did not do what the WHATWG URL parser does
 * first, so under `default: allow` `file:/secret/key.txt`, `file:secret/key.txt`, a leading
 * space, a TAB inside the path, `file:%2Fsecret/key.txt` or `file:/%2Fsecret/key.txt` read
 * the denied file (and http(s) URIs with a default port, `https:/host`, a full-width host
 * or `0x7f.1` the denied page); under `default: deny` a raw TAB, LF or CR inside a `..`
 * segment hid it from the dot-segment check (`file:///public/.\t./secret/key.txt`).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ERRORS } from '../../src/errors/catalog.js';
import { startGateway } from '../helpers/gateway.js';

const FILES_SERVER = fileURLToPath(new URL('../fixtures/files-server.js', import.meta.url));
const LOW = 'low-key-0123456789abcdef';
const OPS = 'ops-key-0123456789abcdef';
const keys = {
  api_keys: [
    { name: 'low', key: LOW, groups: ['low'] },
    { name: 'ops', key: OPS, groups: ['ops'] },
  ],
};
const files = { type: 'mcp', command: process.execPath, args: [FILES_SERVER] };

/** URIs that the files backend resolves to /secret/key.txt, though none is written `file:///secret/...`. */
const DISGUISED = [
  'file:///public/../secret/key.txt',
  'file:///public/%2e%2e/secret/key.txt',
  'file:///public/..%2Fsecret/key.txt',
  'file:///public/%2e%2e%2fsecret/key.txt',
  'file:///%73ecret/key.txt',
  'file:///secret%2Fkey.txt',
  'FILE:///secret/key.txt',
  'File:///secret/key.txt',
  'file://localhost/secret/key.txt',
  'file://LOCALHOST/secret/key.txt',
  'file:///secret/key.txt#frag',
  'file:///secret/key.txt?x=1',
  'file:///public\\..\\secret/key.txt',
  'file:////secret/key.txt',
  'file:///secret//key.txt',
  'file:///secret/./key.txt',
  // review 12: what the WHATWG URL parser reads as file:///secret/key.txt
  'file:/secret/key.txt',
  'file:secret/key.txt',
  ' file:///secret/key.txt',
  'file:///sec\tret/key.txt',
  'file:%2Fsecret/key.txt',
  'file:/%2Fsecret/key.txt',
  // and as https://example.com/secret/page, http://127.0.0.1/secret/page
  'https://example.com:443/secret/page',
  'https:/example.com/secret/page',
  'https:example.com/secret/page',
  'https://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/secret/page',
  'http://0x7f.1/secret/page',
  'http://127.0.0.1:80/secret/page',
];

/** Under an allow rule on file:///public/**: the backend resolves each to /secret/key.txt (a "." or ".." hidden by TAB, LF, CR). */
const ESCAPING = [
  'file:///public/..%2Fsecret/key.txt',
  'file:///public/%2e%2e%2fsecret/key.txt',
  'file:///public/%2E%2E%2Fsecret/key.txt',
  'file:///public/\t../secret/key.txt',
  'file:///public/.\t./secret/key.txt',
  'file:///public/..\n/secret/key.txt',
  'file:///public/.\r./secret/key.txt',
];

async function connect(base: string, key: string): Promise<Client> {
  const c = new Client({ name: 'review7', version: '1' }, { capabilities: {} });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { 'x-api-key': key } } }));
  return c;
}

async function readText(c: Client, uri: string): Promise<string> {
  const r = await c.readResource({ uri });
  return (r.contents[0] as { text: string }).text;
}

async function refused(c: Client, uri: string): Promise<void> {
  const err = await c.readResource({ uri }).then(
    (r) => assert.fail(`${uri} was read: ${JSON.stringify(r.contents)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof McpError, `${uri}: ${String(err)}`);
  assert.equal(err.code, ERRORS.MCPEG_ERR_FORBIDDEN.rpc, `${uri}: ${err.message}`);
}

describe('review7 authz: resource rules see the URI a backend resolves', () => {
  describe('default allow, a deny rule on file:///secret/**', () => {
    let gw: Awaited<ReturnType<typeof startGateway>>;
    let low: Client;
    let ops: Client;
    before(async () => {
      gw = await startGateway({
        auth: keys,
        authorization: {
          default: 'allow',
          rules: [
            {
              name: 'no-secret',
              principals: { groups: ['low'] },
              deny: { resources: ['file:///secret/**', 'https://example.com/secret/**', 'http://127.0.0.1/secret/**'] },
            },
          ],
        },
        backends: { files },
      });
      low = await connect(gw.base, LOW);
      ops = await connect(gw.base, OPS);
    });
    after(async () => {
      await low?.close().catch(() => {});
      await ops?.close().catch(() => {});
      await gw?.close();
    });

    it('the plain URI is refused, the public file is read', async () => {
      await refused(low, 'file:///secret/key.txt');
      await refused(low, 'https://example.com/secret/page');
      assert.equal(await readText(low, 'file:///public/readme.txt'), 'public text');
      assert.equal(await readText(low, 'file:///public/a.txt'), 'a text');
      assert.equal(await readText(low, 'https://example.com/public/page'), 'public page');
    });

    for (const uri of DISGUISED) {
      it(`refuses ${uri}`, async () => {
        assert.equal(await readText(ops, uri), 'TOP SECRET', 'the backend resolves it to the secret file');
        await refused(low, uri);
      });
    }

    it('a subscription to a disguised URI is refused too', async () => {
      for (const uri of ['file:///public/../secret/key.txt', 'FILE:///secret/key.txt']) {
        const err = await low.subscribeResource({ uri }).then(
          () => assert.fail(`subscribed to ${uri}`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof McpError && err.code === ERRORS.MCPEG_ERR_FORBIDDEN.rpc, String(err));
      }
    });
  });

  describe('default deny, an allow rule on file:///public/**', () => {
    let gw: Awaited<ReturnType<typeof startGateway>>;
    let low: Client;
    let ops: Client;
    before(async () => {
      gw = await startGateway({
        auth: keys,
        authorization: {
          default: 'deny',
          rules: [
            {
              name: 'public-only',
              principals: { groups: ['low'] },
              allow: { resources: ['file:///public/**', 'https://example.com/public/**'], tools: ['files__*'] },
            },
            { name: 'ops-all', principals: { groups: ['ops'] }, allow: { backends: ['*'] } },
          ],
        },
        backends: { files },
      });
      low = await connect(gw.base, LOW);
      ops = await connect(gw.base, OPS);
    });
    after(async () => {
      await low?.close().catch(() => {});
      await ops?.close().catch(() => {});
      await gw?.close();
    });

    it('public files are read, also percent-encoded', async () => {
      assert.equal(await readText(low, 'file:///public/readme.txt'), 'public text');
      assert.equal(await readText(low, 'file:///public/a.txt'), 'a text');
      assert.equal(await readText(low, 'file:///public/readm%65.txt'), 'public text');
      assert.equal(await readText(low, 'https://example.com/public/page'), 'public page');
    });

    for (const uri of ESCAPING) {
      it(`refuses ${uri}`, async () => {
        assert.equal(await readText(ops, uri), 'TOP SECRET', 'the backend resolves it to the secret file');
        await refused(low, uri);
      });
    }
  });
});
