/**
 * Credential stripping for remote URLs and for anything git prints. Tokens are routinely
 * stored in remote URLs (`https://user:token@host`, `https://ghp_xxx@github.com`); they
 * must never reach an MCP client through `git_remote_info` or an error message.
 */

// Schemes whose userinfo is an HTTP-style credential: the whole userinfo goes, because the
// token is often put in the user position.
const HTTP_LIKE = new Set(['http', 'https', 'ftp', 'ftps']);

const URL_HEAD = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Returns the URL without credentials; `stripped` tells whether anything was removed. */
export function stripCredentials(url: string): { url: string; stripped: boolean } {
  const head = URL_HEAD.exec(url);
  if (!head) return { url, stripped: false }; // scp-like `git@host:path` carries no secret
  const scheme = head[1].toLowerCase();
  const start = head[0].length;
  const rest = url.slice(start);
  const authEnd = rest.search(/[/?#]/);
  const authority = authEnd === -1 ? rest : rest.slice(0, authEnd);
  const at = authority.lastIndexOf('@');
  if (at === -1) return { url, stripped: false };
  const userinfo = authority.slice(0, at);
  const hostPart = authority.slice(at + 1);
  const tail = authEnd === -1 ? '' : rest.slice(authEnd);
  let keep = '';
  if (!HTTP_LIKE.has(scheme)) {
    // ssh://git@host: the user name is routing, not a secret; a password is.
    const colon = userinfo.indexOf(':');
    keep = `${colon === -1 ? userinfo : userinfo.slice(0, colon)}@`;
    if (colon === -1) return { url, stripped: false };
  }
  return { url: `${url.slice(0, start)}${keep}${hostPart}${tail}`, stripped: true };
}

const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
const URL_END = /[\s'"<>]/;

/**
 * Strips credentials from every URL found in free text (git's stderr, push output): each
 * `scheme://...` up to whitespace, a quote or an angle bracket. A scan from each "://",
 * linear in the text: the regex it replaces (`[a-z][a-z0-9+.-]*://...`) was quadratic on a
 * long run of letters, and git echoes a client's commit message.
 */
export function redactCredentials(text: string): string {
  let out = '';
  let last = 0;
  for (let i = text.indexOf('://'); i !== -1; i = text.indexOf('://', i + 3)) {
    if (i < last) continue;
    let s = i;
    while (s > last && SCHEME_CHAR.test(text[s - 1])) s--;
    while (s < i && !LETTER.test(text[s])) s++;
    let e = i + 3;
    while (e < text.length && !URL_END.test(text[e])) e++;
    if (s === i || e === i + 3) continue;
    out += text.slice(last, s) + stripCredentials(text.slice(s, e)).url;
    last = e;
  }
  return last === 0 ? text : out + text.slice(last);
}
