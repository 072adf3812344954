/**
 * The forms of a resource URI that resource rules are matched against. A client chooses
 * the text it sends; a backend resolves it to what it serves, commonly with the WHATWG URL
 * parser and a percent-decoding of the path, so `file:///public/../secret/key`,
 * `FILE:///secret/key`, `file://localhost/secret/key`, `file:///%73ecret/key` and
 * `file:///public/..%2Fsecret/key` all name `file:///secret/key`. A deny pattern must see
 * that name, and an allow pattern must not admit text that resolves outside it.
 *
 * `resolved` is RFC 3986 normalisation taken further than 6.2.2 allows, on purpose (what
 * some backend may do, not what is equivalent): every percent-escape decoded (up to
 * DECODE_ROUNDS times: double encoding), "\" read as "/" (WHATWG URL does for file: and
 * http(s):), the scheme and host in lower case (3.1, 3.2.2), `file://localhost/` as
 * `file:///` (RFC 8089 2), empty path segments collapsed and dot segments removed (5.2.4).
 * `bare` is `resolved` without query and fragment (a fragment never reaches the resource,
 * 3.5; many backends ignore the query). Linear in the URI; no regular expression.
 */

const DECODE_ROUNDS = 3;

export interface UriForms {
  /** As the client sent it. */
  readonly raw: string;
  /** What a backend may resolve it to (equal to raw when nothing changes). */
  readonly resolved: string;
  /** resolved without query and fragment. */
  readonly bare: string;
  /** A "." or ".." path segment, as sent or once decoded: allow patterns never match it. */
  readonly dotted: boolean;
}

export function uriForms(raw: string): UriForms {
  let decoded = raw;
  for (let i = 0; i < DECODE_ROUNDS; i++) {
    const next = decodeEscapes(decoded);
    if (next === decoded) break;
    decoded = next;
  }
  decoded = decoded.replaceAll('\\', '/');
  const u = split(decoded);
  const scheme = u.scheme?.toLowerCase();
  let authority = u.authority;
  if (authority !== undefined) {
    const at = authority.lastIndexOf('@');
    authority = authority.slice(0, at + 1) + authority.slice(at + 1).toLowerCase();
    if (scheme === 'file' && authority === 'localhost') authority = '';
  }
  const { path, dotted } = normalPath(u.path);
  const bare = (scheme !== undefined ? `${scheme}:` : '') + (authority !== undefined ? `//${authority}` : '') + path;
  const resolved = bare + (u.query !== undefined ? `?${u.query}` : '') + (u.fragment !== undefined ? `#${u.fragment}` : '');
  return { raw, resolved, bare, dotted: dotted || hasDotSegment(raw) };
}

/** "." or ".." as a path segment, literally or percent-encoded (%2e, RFC 3986 2.3 / 6.2.2.2). */
const DOT_SEGMENT = /(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)/i;

export function hasDotSegment(uri: string): boolean {
  return DOT_SEGMENT.test(uri);
}

/** Decodes every run of %XX as UTF-8 (invalid sequences become U+FFFD: they match no pattern's text). */
function decodeEscapes(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j + 2 < s.length && s[j] === '%' && isHex(s.charCodeAt(j + 1)) && isHex(s.charCodeAt(j + 2))) j += 3;
    if (j === i) {
      out += s[i];
      i++;
      continue;
    }
    out += Buffer.from(s.slice(i, j).replaceAll('%', ''), 'hex').toString('utf8');
    i = j;
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

interface Parts {
  scheme: string | undefined;
  authority: string | undefined;
  path: string;
  query: string | undefined;
  fragment: string | undefined;
}

/** RFC 3986 appendix B, by hand. */
function split(s: string): Parts {
  let rest = s;
  let scheme: string | undefined;
  const colon = rest.indexOf(':');
  if (colon > 0 && isScheme(rest.slice(0, colon))) {
    scheme = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
  }
  let fragment: string | undefined;
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  let query: string | undefined;
  const q = rest.indexOf('?');
  if (q !== -1) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let authority: string | undefined;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  return { scheme, authority, path: rest, query, fragment };
}

function isScheme(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alpha && (i === 0 || !((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46))) return false;
  }
  return s.length > 0;
}

/** Empty segments collapsed, "." and ".." removed (RFC 3986 5.2.4); whether there were any dot segments. */
function normalPath(path: string): { path: string; dotted: boolean } {
  if (path === '') return { path, dotted: false };
  const absolute = path.startsWith('/');
  const out: string[] = [];
  let dotted = false;
  const segments = path.split('/');
  for (const seg of segments) {
    if (seg === '.' || seg === '..') {
      dotted = true;
      if (seg === '..') out.pop();
    } else if (seg !== '') out.push(seg);
  }
  const last = segments[segments.length - 1];
  const trailing = path.length > 1 && (last === '' || last === '.' || last === '..');
  return { path: (absolute ? '/' : '') + out.join('/') + (trailing && out.length > 0 ? '/' : ''), dotted };
}
