/**
 * The authorization server's metadata, for its `jwks_uri` when the config names none:
 * RFC 8414 §3.1 first (the well-known prefix inserted between host and the issuer's path),
 * then OpenID Connect Discovery 1.0 §4 (appended to the issuer). The document must name the
 * configured issuer exactly (RFC 8414 §3.3), so another server's document is not taken.
 */
import { request } from 'undici';
import { AuthFailure } from './failure.js';

/** A metadata document is small; more is refused. */
const MAX_BYTES = 256 * 1024;

export function discoveryUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  return [`${u.origin}/.well-known/oauth-authorization-server${path}`, `${u.origin}${path}/.well-known/openid-configuration`];
}

/** A small JSON document (GET, or the POST of an introspection): the parsed object, or undefined for a non-200 answer. */
export async function getJson(
  url: string,
  timeoutMs: number,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {},
): Promise<Record<string, unknown> | undefined> {
  // undici's request follows no redirect: a document is read where the config points.
  const res = await request(url, {
    method: init.method ?? 'GET',
    headers: { accept: 'application/json', ...init.headers },
    body: init.body,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return undefined;
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of res.body) {
    size += (c as Buffer).length;
    if (size > MAX_BYTES) {
      res.body.destroy();
      throw new Error(`${url}: answer larger than ${MAX_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${url}: not a JSON object`);
  return v as Record<string, unknown>;
}

/** The issuer's jwks_uri, from its metadata. */
export async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<URL> {
  const problems: string[] = [];
  for (const url of discoveryUrls(issuer)) {
    try {
      const doc = await getJson(url, timeoutMs);
      if (!doc) {
        problems.push(`${url}: not found`);
        continue;
      }
      if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not ${issuer} (RFC 8414 §3.3)`);
      if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
      return new URL(doc.jwks_uri);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  throw new AuthFailure('unavailable', `the authorization server's metadata could not be read (${problems.join('; ')})`);
}
