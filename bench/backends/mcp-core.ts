/**
 * The JSON-RPC core shared by the two benchmark backends: just enough MCP to be called
 * (initialize, ping, tools/list, tools/call) and nothing that costs on the hot path.
 * Answers are built as strings around cached JSON so the backend stays the "limit".
 *
 * Tools: `echo` (returns its `text` argument), `blob` (returns `bytes` bytes of text,
 * default 1 MiB) and, with `--tools N`, filler tools up to N tools in all.
 */

const KNOWN_VERSIONS = new Set(['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
const FALLBACK_VERSION = '2025-06-18';

export interface BackendOptions {
  /** Total tools listed (echo and blob included); at least 2. */
  tools: number;
  name: string;
}

/** What a backend was asked, so the bench can tell whether a gateway touched it. */
export interface Counters {
  initialize: number;
  toolsList: number;
  toolsCall: number;
  other: number;
}

export function parseBackendArgs(argv: string[]): BackendOptions {
  let tools = 2;
  let name = 'bench-echo';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tools') tools = Math.max(2, Number(argv[++i]));
    else if (argv[i] === '--name') name = argv[++i];
  }
  if (!Number.isInteger(tools)) throw new Error('--tools needs an integer');
  return { tools, name };
}

function toolList(n: number): unknown[] {
  const tools: unknown[] = [
    {
      name: 'echo',
      description: 'Returns its text argument.',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    },
    {
      name: 'blob',
      description: 'Returns `bytes` bytes of text (default 1 MiB).',
      inputSchema: { type: 'object', properties: { bytes: { type: 'integer', minimum: 0 } } },
    },
  ];
  for (let i = tools.length; i < n; i++) {
    const id = String(i).padStart(4, '0');
    tools.push({
      name: `tool_${id}`,
      description: `Filler tool ${id} for catalog benchmarks; behaves like echo.`,
      inputSchema: { type: 'object', properties: { text: { type: 'string', description: 'any text' } }, required: ['text'] },
    });
  }
  return tools;
}

const enc = (id: unknown) => JSON.stringify(id ?? null);

export class McpCore {
  readonly counters: Counters = { initialize: 0, toolsList: 0, toolsCall: 0, other: 0 };
  private readonly toolsJson: string;
  private readonly blobs = new Map<number, string>();
  private readonly serverInfo: string;

  constructor(opts: BackendOptions) {
    this.toolsJson = JSON.stringify({ tools: toolList(opts.tools) });
    this.serverInfo = JSON.stringify({ name: opts.name, version: '1.0.0' });
  }

  /** One parsed message in, its serialized response out (undefined for notifications and responses). */
  handle(msg: unknown): string | undefined {
    if (!msg || typeof msg !== 'object') return error(null, -32600, 'Invalid Request');
    const m = msg as { id?: unknown; method?: unknown; params?: Record<string, unknown> };
    if (typeof m.method !== 'string') return undefined; // a response from the client: nothing to do
    if (m.id === undefined) return undefined; // notification
    switch (m.method) {
      case 'initialize': {
        this.counters.initialize++;
        const asked = m.params?.protocolVersion;
        const version = typeof asked === 'string' && KNOWN_VERSIONS.has(asked) ? asked : FALLBACK_VERSION;
        return `{"jsonrpc":"2.0","id":${enc(m.id)},"result":{"protocolVersion":"${version}","capabilities":{"tools":{}},"serverInfo":${this.serverInfo}}}`;
      }
      case 'ping':
        this.counters.other++;
        return `{"jsonrpc":"2.0","id":${enc(m.id)},"result":{}}`;
      case 'tools/list':
        this.counters.toolsList++;
        return `{"jsonrpc":"2.0","id":${enc(m.id)},"result":${this.toolsJson}}`;
      case 'tools/call':
        this.counters.toolsCall++;
        return this.call(m.id, m.params);
      default:
        this.counters.other++;
        return error(m.id, -32601, `Method not found: ${m.method}`);
    }
  }

  private call(id: unknown, params: Record<string, unknown> | undefined): string {
    const name = params?.name;
    const args = (params?.arguments ?? {}) as Record<string, unknown>;
    if (name === 'blob') {
      const bytes = typeof args.bytes === 'number' && args.bytes >= 0 ? Math.floor(args.bytes) : 1 << 20;
      let result = this.blobs.get(bytes);
      if (!result) {
        result = JSON.stringify({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] });
        this.blobs.set(bytes, result);
      }
      return `{"jsonrpc":"2.0","id":${enc(id)},"result":${result}}`;
    }
    if (name === 'echo' || (typeof name === 'string' && name.startsWith('tool_'))) {
      const text = typeof args.text === 'string' ? args.text : '';
      return `{"jsonrpc":"2.0","id":${enc(id)},"result":{"content":[{"type":"text","text":${JSON.stringify(text)}}]}}`;
    }
    return `{"jsonrpc":"2.0","id":${enc(id)},"result":{"content":[{"type":"text","text":${JSON.stringify(`Unknown tool: ${String(name)}`)}}],"isError":true}}`;
  }
}

function error(id: unknown, code: number, message: string): string {
  return `{"jsonrpc":"2.0","id":${enc(id)},"error":{"code":${code},"message":${JSON.stringify(message)}}}`;
}
