/**
 * Where a configuration holds secrets. One classifier for the two places that must hide
 * them: the admin API shows "[redacted]" in their place (admin/redact.ts) and the logger
 * scrubs their values from every line (observability/secrets.ts), so what one hides the
 * other hides too. Only strings are secrets: `max_tokens: 4096` is a number.
 *
 * A string is secret when it is
 * - any value of an `env` map (what a program is given), or of a `headers` map except a
 *   few standard headers that never carry credentials (Accept, Content-Type, ...);
 * - `auth.token`, `auth.value`, `auth.password`, `admin.keys[].sha256`, `auth.api_keys[].key`
 *   and `.sha256` (but not the keys' names, groups and scopes);
 * - under a key whose words name a credential (`token`, `secret`, `password`, `api_key`,
 *   `clientSecret`, `github_token`, ...) unless the last word says it is not the
 *   credential itself (`token_url`, `token_env`, `password_file`); a bare `key` or
 *   `hash_key` names a lookup, not a credential (but `?key=` in a URL is one);
 * - in `args`, the value after a flag with such a name (`--token X`), after `=`
 *   (`--api-key=X`), of an assignment (`API_KEY=X`, as `docker -e` takes it), or of a
 *   header line (`Authorization: Bearer X`), also inside another flag's value
 *   (`--header=Authorization: Bearer X`, `http.extraHeader=Authorization: Bearer X`);
 * - the values of a REST tool's `query` map under such names, bare `key` included (as in a URL);
 * - in any URL inside a string: the user info (`https://user:pw@host`, `https://tok@host`,
 *   found the way the WHATWG URL parser finds it, so a password containing "@" is hidden
 *   whole) and the values of query or fragment parameters with such names (`?api_key=`,
 *   `access_token=`, `X-Amz-Signature=`, `sig=`).
 */
import type { Config } from './schema.js';

export const REDACTED = '[redacted]';

/**
 * How sure the classifier is that a value is a credential: `sure` for values under a
 * credential's name; `maybe` for env and header values, which are often plain settings
 * (the logger scrubs only long ones, so that "production" stays readable).
 */
export type Certainty = 'sure' | 'maybe';
export type SecretSink = (value: string, certainty: Certainty) => void;

const SECRET_WORDS = new Set([
  'token',
  'tokens',
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'pwd',
  'passphrase',
  'credential',
  'credentials',
  'apikey',
  'accesskey',
  'secretkey',
  'privatekey',
  'accesstoken',
  'authtoken',
  'refreshtoken',
  'bearer',
  'clientsecret',
  'cookie',
  'authorization',
  'signature',
  'sig',
  'sha256',
]);
/**
 * `key` is a credential after a word that says so (`api_key`, `private_key`, `X-Api-Key`);
 * alone it usually names a lookup (`hash_key`, rate-limit `key: ip`), except as a query
 * parameter (`?key=...` is how several APIs take theirs).
 */
const KEY_QUALIFIERS = new Set([
  'api',
  'private',
  'secret',
  'access',
  'signing',
  'encryption',
  'client',
  'master',
  'app',
  'license',
  'subscription',
  'auth',
  'account',
  'service',
  'ssh',
  'hmac',
  'shared',
  'session',
  'consumer',
  'developer',
  'admin',
  'write',
  'read',
  'ingest',
  'deploy',
]);
/** A last word that makes the value something about a credential, not the credential. */
const NOT_THE_VALUE = new Set([
  'url',
  'uri',
  'endpoint',
  'path',
  'file',
  'dir',
  'directory',
  'env',
  'name',
  'names',
  'type',
  'id',
  'in',
  'ttl',
  'length',
  'count',
  'limit',
  'max',
  'min',
  'prefix',
  'header',
  'param',
  'field',
  'format',
  'mode',
  'kind',
  'hint',
]);
/** Flags only: `--pass X`, `--auth user:pw`. */
const FLAG_WORDS = new Set(['pass', 'auth']);
/** Standard request headers that never carry credentials (RFC 9110 §12.5, §8.3, §10.1.5). */
const PLAIN_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-charset',
  'content-type',
  'content-language',
  'user-agent',
  'cache-control',
  'pragma',
  'x-request-id',
  'mcp-protocol-version',
]);

/** Words of a key: `clientSecret` → client, secret; `X-Amz-Signature` → x, amz, signature. */
function words(name: string): string[] {
  // A name is judged by its first 256 characters: no real key is longer, and the camelCase split stays cheap.
  return name
    .slice(0, 256)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Whether a value under this key (an object key, a flag or a query parameter name) is a credential. */
export function isSecretName(name: string, opts: { flag?: boolean; query?: boolean } = {}): boolean {
  // git's http.extraHeader (and http.<url>.extraHeader) is a whole header line, credentials included.
  if (/extraheader$/i.test(name.slice(-32))) return true;
  const w = words(name);
  if (w.length === 0 || (w.length > 1 && NOT_THE_VALUE.has(w[w.length - 1]))) return false;
  if (opts.query === true && w.length === 1 && w[0] === 'key') return true;
  return w.some(
    (x, i) => SECRET_WORDS.has(x) || ((x === 'key' || x === 'keys') && KEY_QUALIFIERS.has(w[i - 1] ?? '')) || (opts.flag === true && (FLAG_WORDS.has(x) || x === 'key')),
  );
}

const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
/** Where a URL inside other text ends (a URL that is the whole string is taken whole). */
const URL_END = /[\s"<>`]/;
const WHOLE_URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S*$/;
/** WHATWG URL "special" schemes, whose authority also ends at a backslash. */
const SPECIAL = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:']);

/** `a=1&api_key=X` with secret values replaced; each replaced value (raw and decoded) to the sink. */
function hideParams(params: string, sink: SecretSink | undefined): string {
  return params
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq < 0) return part;
      let name = part.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // an undecodable name is judged as written
      }
      const value = part.slice(eq + 1);
      if (!value || !isSecretName(name, { query: true })) return part;
      report(sink, value, 'sure');
      return `${part.slice(0, eq)}=${REDACTED}`;
    })
    .join('&');
}

function report(sink: SecretSink | undefined, raw: string, certainty: Certainty): void {
  if (!sink || !raw) return;
  sink(raw, certainty);
  try {
    const decoded = decodeURIComponent(raw);
    if (decoded !== raw) sink(decoded, certainty);
  } catch {
    // not percent-encoded
  }
}

function parseUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

function indexOfAny(s: string, from: number, chars: string): number {
  for (let i = from; i < s.length; i++) if (chars.includes(s[i])) return i;
  return s.length;
}

/**
 * One URL with its user info and secret parameters hidden. Where the user info ends is
 * decided as the WHATWG URL parser (what the gateway's HTTP clients use) decides it: at
 * the last "@" before the authority ends, so a password with an "@" is hidden whole. The
 * result is parsed again: if the parser would still find the password, the URL is
 * rebuilt from the parsed parts instead.
 */
function hideUrl(u: string, sink: SecretSink | undefined): string {
  const start = u.indexOf('://') + 3;
  const url = parseUrl(u);
  let out = u;
  if (!url || url.username || url.password) {
    const authorityEnd = indexOfAny(u, start, url && !SPECIAL.has(url.protocol) ? '/?#' : '/?#\\');
    const at = u.lastIndexOf('@', authorityEnd - 1);
    if (at >= start) {
      const info = u.slice(start, at);
      const colon = info.indexOf(':');
      // With a password the user name stays visible; a lone user info is often a token (https://ghp_x@github.com).
      report(sink, colon >= 0 ? info.slice(colon + 1) : info, 'sure');
      out = `${u.slice(0, start)}${colon >= 0 ? `${info.slice(0, colon)}:${REDACTED}` : REDACTED}${u.slice(at)}`;
    }
    const again = url && parseUrl(out);
    if (url && (!again || (url.password && again.password === url.password) || (!url.password && again.username === url.username))) {
      report(sink, url.password || url.username, 'sure');
      out = `${url.protocol}//${REDACTED}@${url.host}${url.pathname}${url.search}${url.hash}`;
    }
  }
  const q = out.indexOf('?');
  const h = out.indexOf('#');
  const head = out.slice(0, q >= 0 && (h < 0 || q < h) ? q : h >= 0 ? h : out.length);
  const query = q >= 0 && (h < 0 || q < h) ? out.slice(q + 1, h > q ? h : out.length) : undefined;
  const fragment = h >= 0 ? out.slice(h + 1) : undefined;
  return `${head}${query !== undefined ? `?${hideParams(query, sink)}` : ''}${fragment !== undefined ? `#${hideParams(fragment, sink)}` : ''}`;
}

/** A string with the secrets of every URL in it hidden (a linear scan for "://"). */
export function hideInText(s: string, sink?: SecretSink): string {
  let i = s.indexOf('://');
  if (i < 0) return s;
  // A string that is one URL is read whole, as the HTTP client will read it.
  const trimmed = s.trim();
  if (WHOLE_URL.test(trimmed)) return s.replace(trimmed, () => hideUrl(trimmed, sink));
  let out = '';
  let done = 0;
  while (i >= 0) {
    let start = i;
    while (start > done && SCHEME_CHAR.test(s[start - 1])) start--;
    while (start < i && !/[A-Za-z]/.test(s[start])) start++;
    let end = i + 3;
    while (end < s.length && !URL_END.test(s[end])) end++;
    if (start < i) {
      out += s.slice(done, start) + hideUrl(s.slice(start, end), sink);
      done = end;
    }
    i = s.indexOf('://', Math.max(end, i + 3));
  }
  return out + s.slice(done);
}

const FLAG = /^--?([A-Za-z][A-Za-z0-9_.-]*)$/;
const FLAG_VALUE = /^(--?([A-Za-z][A-Za-z0-9_.-]*)=)([^]*)$/;
const HEADER_LINE = /^([A-Za-z0-9-]{1,64}):[ \t]*([^]+)$/;
/** `NAME=value`: an environment assignment (`docker -e`), a config setting (`git -c`, `--set`). */
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_.-]{0,127})=([^]+)$/;

/** Program arguments with secret flag values hidden: `--token X`, `--api-key=X`, `Authorization: Bearer X`, `API_KEY=X`. */
function hideArgs(args: readonly unknown[], sink: SecretSink | undefined): unknown[] {
  let secretNext = false;
  return args.map((a) => {
    if (typeof a !== 'string') {
      secretNext = false;
      // {if, then: [...]} items of command tools: their own argument lists.
      if (a && typeof a === 'object' && !Array.isArray(a)) return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Array.isArray(v) ? hideArgs(v, sink) : v]));
      return a;
    }
    if (secretNext) {
      secretNext = false;
      report(sink, a, 'sure');
      return REDACTED;
    }
    const flag = FLAG.exec(a);
    if (flag) {
      // Long flags only: `-p` is a password for some programs and a port for others.
      secretNext = a.startsWith('--') && isSecretName(flag[1], { flag: true });
      return a;
    }
    return hideArg(a, sink);
  });
}

/**
 * One argument that is not a lone flag. A value can nest another form, so each part is
 * judged again: `--env=API_KEY=X`, `--header=Authorization: Bearer X`,
 * `http.extraHeader=Authorization: Bearer X` (git -c).
 */
function hideArg(a: string, sink: SecretSink | undefined): string {
  const withValue = FLAG_VALUE.exec(a);
  if (withValue?.[3]) {
    if (a.startsWith('--') && isSecretName(withValue[2], { flag: true })) {
      report(sink, withValue[3], 'sure');
      return `${withValue[1]}${REDACTED}`;
    }
    return withValue[1] + hideArg(withValue[3], sink);
  }
  const header = HEADER_LINE.exec(a);
  if (header && !a.includes('://') && isSecretName(header[1])) {
    reportHeader(sink, header[2], 'sure');
    return `${header[1]}: ${REDACTED}`;
  }
  const assignment = ASSIGNMENT.exec(a);
  if (assignment) {
    if (isSecretName(assignment[1])) {
      report(sink, assignment[2], 'sure');
      return `${assignment[1]}=${REDACTED}`;
    }
    return `${assignment[1]}=${hideArg(assignment[2], sink)}`;
  }
  return hideInText(a, sink);
}

/** A header value and, for `Bearer x`/`Basic x`, the credential alone. */
function reportHeader(sink: SecretSink | undefined, v: string, certainty: Certainty): void {
  report(sink, v, certainty);
  const bare = v.replace(/^(Bearer|Basic|Token|Digest)\s+/i, '');
  if (bare !== v) report(sink, bare, certainty);
}

const AUTH_SECRETS = new Set(['token', 'value', 'password']);

/**
 * A copy of `v` (a config, or part of one) with every secret replaced by "[redacted]";
 * each secret value goes to `sink`. `parent` is the key `v` sits under.
 */
export function hideSecrets(v: unknown, sink?: SecretSink, parent = ''): unknown {
  if (typeof v === 'string') return hideInText(v, sink);
  if (Array.isArray(v)) return parent === 'args' ? hideArgs(v, sink) : v.map((x) => hideSecrets(x, sink, parent));
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    let hidden: unknown;
    // Everything under a credential's name is the credential: `credentials: {user, pass}`
    // (but the top-level `secrets` declaration lists names of variables, not values).
    // (and `auth.api_keys` lists named keys: their names, groups and scopes are no secrets, `sha256` and `key` are;
    // the top-level `authorization` holds rules — names, principals, patterns — not an Authorization header).
    if (
      typeof x !== 'string' &&
      x &&
      typeof x === 'object' &&
      isSecretName(k) &&
      !(parent === '' && (k === 'secrets' || k === 'authorization')) &&
      !(parent === 'auth' && k === 'api_keys') &&
      !isCredentialsBlock(k, x)
    )
      hidden = hideAll(x, sink);
    else if (typeof x !== 'string') hidden = hideSecrets(x, sink, k);
    else if (parent === 'env') {
      report(sink, x, 'maybe');
      hidden = REDACTED;
    } else if (parent === 'headers') {
      if (PLAIN_HEADERS.has(k.toLowerCase()) && !isSecretName(k)) hidden = hideInText(x, sink);
      else {
        reportHeader(sink, x, isSecretName(k) ? 'sure' : 'maybe');
        hidden = REDACTED;
      }
    } else if ((parent === 'auth' && AUTH_SECRETS.has(k)) || (parent === 'api_keys' && k === 'key') || isSecretName(k, { query: parent === 'query' })) {
      report(sink, x, 'sure');
      hidden = REDACTED;
    } else hidden = hideInText(hideKeyValues(x, sink), sink);
    // Own data properties only, whatever the key ("__proto__" included). A key can hold a URL
    // too (git's url.<base>.insteadOf): its user info is hidden like a value's.
    Object.defineProperty(out, k.includes('://') ? hideInText(k, sink) : k, { value: hidden, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * A backend's `credentials` block (config/credentials.ts) is judged field by field: its
 * token endpoint, client id and audience are settings; `client_secret` and the `tokens`
 * map are the secrets.
 */
function isCredentialsBlock(k: string, x: object): boolean {
  const type = (x as { type?: unknown }).type;
  return k === 'credentials' && (type === 'token_exchange' || type === 'per_principal');
}

/** Every string under a credential-named key, at any depth. */
function hideAll(v: unknown, sink: SecretSink | undefined): unknown {
  if (typeof v === 'string') {
    report(sink, v, 'sure');
    return REDACTED;
  }
  if (Array.isArray(v)) return v.map((x) => hideAll(x, sink));
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: hideAll(x, sink), enumerable: true, writable: true, configurable: true });
  return out;
}

/** Connection strings (`Server=db;User Id=app;Password=s3cret;`): the values of credential-named parts. */
function hideKeyValues(s: string, sink: SecretSink | undefined): string {
  if (!s.includes(';') || !s.includes('=')) return s;
  return s
    .split(';')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq <= 0) return part;
      const value = part.slice(eq + 1);
      if (!value || !isSecretName(part.slice(0, eq).trim())) return part;
      report(sink, value, 'sure');
      return `${part.slice(0, eq + 1)}${REDACTED}`;
    })
    .join(';');
}

/** An `*_env` field: the name of one of the gateway's environment variables whose value the gateway sends somewhere. */
export interface EnvReference {
  /** Key path, e.g. ['backends', 'github', 'auth', 'token_env']. */
  path: string[];
  backend: string;
  variable: string;
}

/**
 * Every `*_env` field of a config: backend auth (token_env, value_env, username_env,
 * password_env) and per-user credentials (client_secret_env, each value of tokens_env).
 */
export function envReferences(c: Pick<Config, 'backends'>): EnvReference[] {
  const out: EnvReference[] = [];
  for (const [name, b] of Object.entries(c.backends)) {
    const { auth, credentials, discovery } = b as { auth?: Record<string, unknown>; credentials?: Record<string, unknown>; discovery?: { consul?: { token_env?: unknown } } };
    const consulToken = discovery?.consul?.token_env;
    if (typeof consulToken === 'string') out.push({ path: ['backends', name, 'discovery', 'consul', 'token_env'], backend: name, variable: consulToken });
    for (const [k, x] of Object.entries(auth ?? {})) if (k.endsWith('_env') && typeof x === 'string') out.push({ path: ['backends', name, 'auth', k], backend: name, variable: x });
    if (!credentials) continue;
    if (typeof credentials.client_secret_env === 'string')
      out.push({ path: ['backends', name, 'credentials', 'client_secret_env'], backend: name, variable: credentials.client_secret_env });
    const map = credentials.tokens_env;
    if (map && typeof map === 'object')
      for (const [id, x] of Object.entries(map)) if (typeof x === 'string') out.push({ path: ['backends', name, 'credentials', 'tokens_env', id], backend: name, variable: x });
  }
  return out;
}
