/**
 * The web console's files (built by `vite build` into dist/ui, shipped in the package):
 * served at /admin/ui/ by the admin listener, GET and HEAD only, without a key (the page
 * holds no data; every data call it makes sends the key). A path resolves to a file by
 * real path inside the build folder, never outside it (symlinks, `..`, encoded slashes).
 * Hashed assets are immutable; index.html is revalidated so a new build takes effect.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const UI_PREFIX = '/admin/ui';

/** dist/src/admin/ui-static.js → dist/ui */
const DEFAULT_ROOT = fileURLToPath(new URL('../../ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** No inline script or style, nothing from another origin, never framed. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export const isConsolePath = (path: string): boolean => path === UI_PREFIX || path.startsWith(`${UI_PREFIX}/`);

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...extra, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Serves one console request; `rawPath` is the URL's path as sent (still percent-encoded). */
export async function serveConsole(req: IncomingMessage, res: ServerResponse, rawPath: string, root = DEFAULT_ROOT): Promise<number> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    plain(res, 405, `${method} is not allowed on the console (GET, HEAD)\n`, { allow: 'GET, HEAD' });
    return 405;
  }
  if (rawPath === UI_PREFIX) {
    // /admin/ui → /admin/ui/ so the page's relative asset URLs resolve under it.
    res.writeHead(308, { ...SECURITY_HEADERS, location: `${UI_PREFIX}/`, 'content-length': 0 });
    res.end();
    return 308;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(rawPath.slice(UI_PREFIX.length + 1));
  } catch {
    plain(res, 400, 'bad path encoding\n');
    return 400;
  }
  if (rel === '') rel = 'index.html';
  // Segments only: no backslash, NUL, dot segments or empty segments (an encoded slash decodes to a separator too).
  const parts = rel.split('/');
  if (rel.includes('\\') || rel.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    plain(res, 404, 'not found\n');
    return 404;
  }
  let file: string;
  let size: number;
  try {
    const base = await realpath(root);
    file = await realpath(join(base, ...parts));
    if (!file.startsWith(base + sep)) throw new Error('outside');
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    plain(res, 404, rel === 'index.html' ? 'the console is not built (npm run build writes dist/ui)\n' : 'not found\n');
    return 404;
  }
  const immutable = parts[0] === 'assets';
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (method === 'HEAD') {
    res.end();
    return 200;
  }
  await new Promise<void>((resolve) => {
    const s = createReadStream(file);
    s.once('error', () => {
      res.destroy();
      resolve();
    });
    s.once('end', resolve);
    s.pipe(res);
  });
  return 200;
}
