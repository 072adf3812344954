/**
 * The forms of a resource URI that resource rules are matched against. A client chooses
 * the text it sends; a backend resolves it to what it serves, commonly with the WHATWG URL
 * parser and a percent-decoding of the path, so `file:///public/../secret/key`,
 * `FILE:///secret/key`, `file://localhost/secret/key`, `file:///%73ecret/key`,
 * `file:///public/..%2Fsecret/key`, `file:/secret/key`, `file:secret/key`,
 * `" file:///secret/key"` and `"file:///sec\tret/key"` all name `file:///secret/key`.
 * A deny pattern must see that name, and an allow pattern must not admit text that
 * resolves outside it.
 *
 * `resolved` is RFC 3986 normalisation taken further than 6.2.2 allows, on purpose (what
 * some backend may do, not what is equivalent), after what the WHATWG URL parser does
 * first (URL Standard, basic URL parser: leading and trailing C0 controls and spaces
 * trimmed, every ASCII tab and newline removed — here again after each decoding): every
 * percent-escape decoded (up to DECODE_ROUNDS times: double encoding), "\" read as "/"
 * (WHATWG URL does for file: and http(s):), the scheme and host in lower case (3.1,
 * 3.2.2), a special scheme's default port dropped, `scheme:/x` and `scheme:x` read as
 * WHATWG reads them for special schemes (`file:///x`, `http://x`), `file://localhost/` as
 * `file:///` (RFC 8089 2), empty path segments collapsed and dot segments removed (5.2.4).
 * `bare` is `resolved` without query and fragment (a fragment never reaches the resource,
 * 3.5; many backends ignore the query). `parsed` is what `new URL(raw)` yields, its path
 * percent-decoded and normalised as a file backend does (full-width or IPv4-shorthand
 * hosts come out as the parser writes them). Linear in the URI; no backtracking regex.
 */

const DECODE_ROUNDS = 3;
/** new URL() is linear, but bound it anyway (the engine refuses longer targets before this: engine.ts MAX_TARGET_CHARS). */
const MAX_PARSED_CHARS = 16_384;
/** The URL Standard's special schemes and their default ports (file has none). */
const SPECIAL_PORTS: ReadonlyMap<string, string> = new Map([
  ['http', '80'],
  ['https', '443'],
  ['ws', '80'],
  ['wss', '443'],
  ['ftp', '21'],
  ['file', ''],
]);

export interface UriForms {
  /** As the client sent it. */
  readonly raw: string;
  /** What a backend may resolve it to (equal to raw when nothing changes). */
  readonly resolved: string;
  /** resolved without query and fragment. */
  readonly bare: string;
  /** What the WHATWG URL parser makes of it, path decoded and normalised; undefined when it does not parse. */
  readonly parsed: string | undefined;
  /** Every distinct form a deny pattern is matched against: raw, resolved, bare, the parser's href and parsed, each also without query and fragment. */
  readonly denyForms: readonly string[];
  /** The forms an allow pattern must all match: raw, resolved and parsed. */
  readonly allowForms: readonly string[];
  /** A "." or ".." path segment, as sent, once decoded or once tabs and newlines are removed: allow patterns never match it. */
  readonly dotted: boolean;
  /** A C0 control character (tab, CR, LF, ...) as sent: a parser drops or trims it, so allow patterns never match it. */
  readonly controls: boolean;
}

export function uriForms(raw: string): UriForms {
  const cleaned = clean(raw);
  let decoded = cleaned;
  for (let i = 0; i < DECODE_ROUNDS; i++) {
    const next = clean(decodeEscapes(decoded));
    if (next === decoded) break;
    decoded = next;
  }
  decoded = decoded.replaceAll('\\', '/');
  const u = split(decoded);
  const scheme = u.scheme?.toLowerCase();
  let authority = u.authority;
  let upath = u.path;
  const defaultPort = scheme === undefined ? undefined : SPECIAL_PORTS.get(scheme);
  if (defaultPort !== undefined && scheme === 'file' && authority === undefined) {
    // file:/x and file:x are file:///x (URL Standard, file state and file slash state).
    authority = '';
    upath = `/${trimSlashes(upath)}`;
  } else if (defaultPort !== undefined && scheme !== 'file' && (authority === undefined || authority === '')) {
    // http:/host/x, http:host/x and http:///host/x are http://host/x (special authority ignore slashes state).
    const rest = trimSlashes(upath);
    const slash = rest.indexOf('/');
    authority = slash === -1 ? rest : rest.slice(0, slash);
    upath = slash === -1 ? '' : rest.slice(slash);
  }
  if (authority !== undefined) {
    const at = authority.lastIndexOf('@');
    let host = authority.slice(at + 1).toLowerCase();
    if (defaultPort !== undefined && (host.endsWith(`:${defaultPort}`) || host.endsWith(':'))) host = host.slice(0, host.lastIndexOf(':'));
    authority = authority.slice(0, at + 1) + host;
    if (scheme === 'file' && authority === 'localhost') authority = '';
  }
  const { path, dotted } = normalPath(upath);
  const bare = (scheme !== undefined ? `${scheme}:` : '') + (authority !== undefined ? `//${authority}` : '') + path;
  const resolved = bare + (u.query !== undefined ? `?${u.query}` : '') + (u.fragment !== undefined ? `#${u.fragment}` : '');
  const p = parsedForms(raw);
  const denyForms = [...new Set([raw, resolved, bare, ...(p?.forms ?? [])])];
  const allowForms = [...new Set([raw, resolved, ...(p ? [p.parsed] : [])])];
  return {
    raw,
    resolved,
    bare,
    parsed: p?.parsed,
    denyForms,
    allowForms,
    dotted: dotted || (p?.dotted ?? false) || hasDotSegment(raw) || hasDotSegment(cleaned),
    controls: hasControl(raw),
  };
}

/** What the WHATWG URL parser yields: href, and href with the path decoded and normalised; each also without query and fragment. */
function parsedForms(raw: string): { parsed: string; forms: string[]; dotted: boolean } | undefined {
  if (raw.length > MAX_PARSED_CHARS) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const href = url.href;
  // The serialisation is <scheme>:[//<authority>]<path>[?<query>][#<fragment>]; "#" and "?" are
  // percent-encoded before them (URL Standard, percent-encode sets), so the first of each splits.
  const hash = href.indexOf('#');
  const noFragment = hash === -1 ? href : href.slice(0, hash);
  const q = noFragment.indexOf('?');
  const hrefBare = q === -1 ? noFragment : noFragment.slice(0, q);
  const tail = href.slice(hrefBare.length);
  const forms = [href, noFragment, hrefBare];
  if (!hrefBare.endsWith(url.pathname)) return { parsed: href, forms, dotted: false };
  const prefix = hrefBare.slice(0, hrefBare.length - url.pathname.length);
  let decoded = url.pathname;
  for (let i = 0; i < DECODE_ROUNDS; i++) {
    const next = clean(decodeEscapes(decoded));
    if (next === decoded) break;
    decoded = next;
  }
  const { path, dotted } = normalPath(decoded.replaceAll('\\', '/'));
  const parsedBare = prefix + path;
  const parsed = parsedBare + tail;
  forms.push(parsed, parsedBare);
  return { parsed, forms, dotted };
}

/** As the WHATWG URL parser begins: leading and trailing C0 controls and spaces trimmed, ASCII tab and newline removed. */
function clean(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) <= 0x20) end--;
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x09 || c === 0x0a || c === 0x0d) {
      out += s.slice(from, i);
      from = i + 1;
    }
  }
  return from === 0 && end === s.length ? s : out + s.slice(from, end);
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

function trimSlashes(s: string): string {
  let i = 0;
  while (i < s.length && s[i] === '/') i++;
  return s.slice(i);
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
