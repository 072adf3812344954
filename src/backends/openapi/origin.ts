/**
 * Which requests may carry a backend's credentials: only those to its API's origin. An
 * origin is scheme, host and port as the WHATWG URL standard computes them (§4.1 "origin"),
 * so `http://h:80` and `http://H/` are one origin, `http://h:81` another; URLs with an opaque
 * origin (file:, data:) never match. This is what a browser's same-origin rule would say,
 * and it is the only rule that stops a document from steering a secret to a host it names.
 */

/** What the backend adds to a request to authenticate: its `headers` and `auth` (header, query). */
export interface Credentials {
  headers: Record<string, string>;
  query: Record<string, string>;
}

export const NO_CREDENTIALS: Credentials = Object.freeze({ headers: Object.freeze({}), query: Object.freeze({}) }) as Credentials;

/** The serialised origin of an http(s) URL, or undefined for anything else (or no URL). */
export function httpOrigin(url: string | URL | undefined): string | undefined {
  if (url === undefined) return undefined;
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return undefined;
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
}

export function hasCredentials(c: Credentials): boolean {
  return Object.keys(c.headers).length > 0 || Object.keys(c.query).length > 0;
}

/** `creds` when `url` is on `trusted` (an origin), else none. */
export function credentialsFor(url: string | URL, trusted: string | undefined, creds: Credentials): Credentials {
  return trusted !== undefined && httpOrigin(url) === trusted ? creds : NO_CREDENTIALS;
}
