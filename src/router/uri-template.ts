/**
 * Whether a URI matches a resource template (RFC 6570), for routing `resources/read` to
 * the backend that advertised the template. Templates come from backends and URIs from
 * clients, and neither is trusted: the SDK's UriTemplate.match builds a backtracking
 * JavaScript RegExp, where a template like `x://{a}{b}{c}{d}{e}{f}!` makes an 80-character
 * URI take most of a second. The same patterns run here on RE2 (re2js): linear in the URI.
 * The patterns are the SDK's (shared/uriTemplate.ts partToRegExp), so routing decides as
 * the SDK-based servers themselves do.
 */
import { RE2JS } from 're2js';

/** Templates longer than this, or with more expressions, are not routed (no real template comes close). */
const MAX_TEMPLATE_CHARS = 4096;
const MAX_EXPRESSIONS = 64;
/** URIs longer than this match no template. */
const MAX_URI_CHARS = 16_384;

export type TemplateMatcher = (uri: string) => boolean;

const quote = (s: string) => RE2JS.quote(s);

function expressionPattern(body: string): string {
  const op = /^[+#./;?&]/.test(body) ? body[0] : '';
  const names = (op ? body.slice(1) : body).split(',').map((n) => n.trim());
  if (op === '?' || op === '&') return names.map((n, i) => `${i === 0 ? `\\${op}` : '&'}${quote(n.replace(/:\d+$/, '').replace(/\*$/, ''))}=[^&]+`).join('');
  const exploded = names[0]?.endsWith('*') ?? false;
  switch (op) {
    case '':
      return exploded ? '[^/,]+(?:,[^/,]+)*' : '[^/,]+';
    case '+':
    case '#':
      return '.+';
    case '.':
      return '\\.[^/,]+';
    case '/':
      return `/${exploded ? '[^/,]+(?:,[^/,]+)*' : '[^/,]+'}`;
    default:
      return '[^/]+';
  }
}

/** A matcher for `template`, or undefined when it is not a template this gateway can route on. */
export function compileTemplate(template: string): TemplateMatcher | undefined {
  if (template.length > MAX_TEMPLATE_CHARS) return undefined;
  let pattern = '';
  let expressions = 0;
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      pattern += quote(template.slice(i));
      break;
    }
    const close = template.indexOf('}', open);
    if (close < 0) return undefined;
    pattern += quote(template.slice(i, open)) + expressionPattern(template.slice(open + 1, close));
    if (++expressions > MAX_EXPRESSIONS) return undefined;
    i = close + 1;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^${pattern}$`);
  } catch {
    return undefined;
  }
  return (uri) => uri.length <= MAX_URI_CHARS && re.matches(uri);
}
