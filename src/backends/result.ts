/** Tool results shared by REST and command backends. */
import type { ToolErrorCode } from '../errors/catalog.js';
import type { ToolResult } from '../plugins/api.js';

/** An `isError` result the model can read; the catalogue code rides in `_meta` for logs and clients. */
export function toolFailure(code: ToolErrorCode, message: string, data: Record<string, unknown> = {}): ToolResult {
  return { content: [{ type: 'text', text: message }], isError: true, _meta: { 'mcpeg/error': { code, ...data } } };
}

/** At most `max` characters of `s`, with a marker saying how much was left out. */
export function excerpt(s: string, max = 2048): string {
  return s.length <= max ? s : `${s.slice(0, max)}… [${s.length - max} more characters]`;
}

/** structuredContent must be an object (MCP: tools "Structured Content"); anything else is wrapped as {result}. */
export function asStructured(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { result: v };
}
