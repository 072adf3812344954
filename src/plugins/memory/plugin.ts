/**
 * The built-in memory plugin: a durable key-value memory for agents (store.ts: append-only
 * log with group commit and fsync, snapshot compaction, persisted TTLs). Values are any
 * JSON; a write is acknowledged only once it is on disk. What a client can make it hold is
 * bounded: keys, bytes per value, bytes in all (max_total_bytes), and the length of
 * patterns and queries, which are matched against every key.
 */
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { definePlugin, json, type PluginTool } from '../api.js';
import { MemoryStore } from './store.js';
import { DEFAULT_MAX_TOTAL_BYTES } from './store-validate.js';

interface MemoryConfig {
  max_keys: number;
  max_value_bytes: number;
  max_total_bytes: number;
}

/** Longest glob pattern or search query: each is matched against every key (and value). */
const MAX_PATTERN = 1024;

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const key = { type: 'string', minLength: 1, maxLength: 256, description: 'The key (at most 256 characters).' };
const pattern = { type: 'string', maxLength: MAX_PATTERN, description: `Glob over keys: * any run, ? one character, \\ escapes (at most ${MAX_PATTERN} characters).` };
const query = { type: 'string', minLength: 1, maxLength: MAX_PATTERN };

/** Prompt arguments have no schema: the same bound, as an invalid-params error. */
const bounded = (name: string, v: string | undefined): string | undefined => {
  if (v !== undefined && v.length > MAX_PATTERN) throw Object.assign(new Error(`${name} must NOT have more than ${MAX_PATTERN} characters`), { code: ErrorCode.InvalidParams });
  return v;
};

const decode = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

export default definePlugin<MemoryConfig>({
  name: 'memory',
  version: '1.0.0',
  description: 'Durable key-value memory with TTLs, listing and search.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      max_keys: { type: 'integer', minimum: 1, default: 10_000 },
      max_value_bytes: { type: 'integer', minimum: 1, default: 1_048_576 },
      max_total_bytes: { type: 'integer', minimum: 1, default: DEFAULT_MAX_TOTAL_BYTES },
    },
  },
  async start(config, ctx) {
    const store = await MemoryStore.open(ctx.dataDir, { maxKeys: config.max_keys, maxValueBytes: config.max_value_bytes, maxTotalBytes: config.max_total_bytes });
    ctx.log.info({ dir: ctx.dataDir, keys: store.stats().keys }, 'memory store opened');

    const tools: PluginTool[] = [
      {
        name: 'memory_store',
        description: 'Stores a JSON value under a key (replacing any value), optionally expiring after ttl seconds. Returns once the write is durable.',
        inputSchema: obj(
          {
            key,
            value: { description: 'Any JSON value.' },
            ttl: { type: 'number', exclusiveMinimum: 0, maximum: 315_360_000, description: 'Seconds until the key expires (at most 10 years).' },
          },
          ['key', 'value'],
        ),
        annotations: { idempotentHint: true },
        handler: async (a) => {
          const r = await store.set(a.key as string, JSON.stringify(a.value), a.ttl === undefined ? undefined : Math.max(1, Math.round((a.ttl as number) * 1000)));
          return json(
            { key: a.key, created: r.created, ...(r.expiresAt ? { expiresAt: new Date(r.expiresAt).toISOString() } : {}) },
            `${r.created ? 'stored' : 'updated'} "${String(a.key)}"`,
          );
        },
      },
      {
        name: 'memory_retrieve',
        description: 'Returns the value stored under a key.',
        inputSchema: obj({ key }, ['key']),
        annotations: { readOnlyHint: true },
        handler: async (a) => {
          const e = await store.get(a.key as string);
          if (!e) return { content: [{ type: 'text', text: `no value stored under "${String(a.key)}"` }], isError: true };
          return json(
            {
              key: a.key,
              value: decode(e.value),
              createdAt: new Date(e.createdAt).toISOString(),
              updatedAt: new Date(e.updatedAt).toISOString(),
              ...(e.expiresAt ? { expiresAt: new Date(e.expiresAt).toISOString() } : {}),
            },
            e.value,
          );
        },
      },
      {
        name: 'memory_list',
        description: 'Lists keys, optionally matching a glob pattern (* and ?), sorted.',
        inputSchema: obj({ pattern, limit: { type: 'integer', minimum: 1, maximum: 10_000 } }),
        annotations: { readOnlyHint: true },
        handler: (a) => {
          const limit = (a.limit as number | undefined) ?? 100;
          const found = store.list({ pattern: a.pattern as string | undefined, limit: limit + 1 });
          const items = found.slice(0, limit);
          const truncated = found.length > limit;
          return json(
            { keys: items, truncated },
            (items.map((i) => i.key).join('\n') || '(no keys)') + (truncated ? `\n(more than ${limit} keys; raise limit or narrow the pattern)` : ''),
          );
        },
      },
      {
        name: 'memory_delete',
        description: 'Deletes a key.',
        inputSchema: obj({ key }, ['key']),
        handler: async (a) => {
          const deleted = await store.delete(a.key as string);
          return json({ key: a.key, deleted }, deleted ? `deleted "${String(a.key)}"` : `no value stored under "${String(a.key)}"`);
        },
      },
      {
        name: 'memory_clear',
        description: 'Deletes every key. confirm must be true.',
        inputSchema: obj({ confirm: { type: 'boolean' } }, ['confirm']),
        annotations: { destructiveHint: true },
        handler: async (a) => {
          if (a.confirm !== true) throw Object.assign(new Error('refused: set confirm: true to delete every key'), { code: 'CONFIRM_REQUIRED' });
          const removed = await store.clear();
          return json({ removed }, `removed ${removed} key(s)`);
        },
      },
      {
        name: 'memory_search',
        description: 'Case-insensitive search over keys and values; key matches rank first.',
        inputSchema: obj({ query, limit: { type: 'integer', minimum: 1, maximum: 1000 } }, ['query']),
        annotations: { readOnlyHint: true },
        handler: (a) => {
          const hits = store.search(a.query as string, (a.limit as number | undefined) ?? 20);
          return json({ hits: hits.map((h) => ({ ...h, value: decode(h.value) })) }, hits.map((h) => `${h.key}: ${h.value.slice(0, 200)}`).join('\n') || '(no matches)');
        },
      },
    ];

    return {
      tools,
      resources: [
        {
          uri: 'mcpeg://memory/stats',
          name: 'memory_stats',
          description: 'Key count, bytes, file size and compaction state of the store.',
          mimeType: 'application/json',
          read: () => [{ uri: 'mcpeg://memory/stats', mimeType: 'application/json', text: JSON.stringify(store.stats(), null, 2) }],
        },
        {
          uri: 'mcpeg://memory/dump',
          name: 'memory_dump',
          description: 'Every live key and value (up to 10,000 keys).',
          mimeType: 'application/json',
          read: async () => {
            const pairs: Array<[string, unknown]> = [];
            for (const i of store.list({ limit: 10_000 })) {
              const e = await store.get(i.key);
              if (e) pairs.push([i.key, decode(e.value)]);
            }
            // One key per line, each value compact: indenting a stored value would cost its
            // nesting depth in spaces on every line (a 4 KB value of 2000 nested arrays became
            // 8 MB; sixty of them, 480 MB). Written as text, so a key "__proto__" stays a key.
            const lines = pairs.map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
            return [{ uri: 'mcpeg://memory/dump', mimeType: 'application/json', text: lines.length === 0 ? '{}' : `{\n${lines.join(',\n')}\n}` }];
          },
        },
      ],
      prompts: [
        {
          name: 'memory_search',
          description: 'Recalls what memory holds about a query, as context for the conversation.',
          arguments: [{ name: 'query', description: 'What to recall.', required: true }],
          get: (args) => {
            const hits = store.search(bounded('query', args.query)!, 20);
            const lines = hits.map((h) => `- ${h.key}: ${h.value.slice(0, 500)}`);
            return {
              description: `Memory about "${args.query}"`,
              messages: [
                {
                  role: 'user',
                  content: { type: 'text', text: hits.length ? `Relevant memory for "${args.query}":\n${lines.join('\n')}` : `Memory holds nothing about "${args.query}".` },
                },
              ],
            };
          },
        },
        {
          name: 'memory_context',
          description: 'The stored memory (keys matching a pattern), as context for the conversation.',
          arguments: [{ name: 'pattern', description: 'Glob over keys (default: all).' }],
          get: async (args) => {
            const items = store.list({ pattern: bounded('pattern', args.pattern) || undefined, limit: 200 });
            const lines: string[] = [];
            for (const i of items) {
              const e = await store.get(i.key);
              if (e) lines.push(`- ${i.key}: ${e.value.slice(0, 500)}`);
            }
            return {
              description: 'Stored memory',
              messages: [{ role: 'user', content: { type: 'text', text: lines.length ? `What memory holds:\n${lines.join('\n')}` : 'Memory is empty.' } }],
            };
          },
        },
      ],
      health: () => ({ ok: true, detail: `${store.stats().keys} key(s)` }),
      stop: () => store.close(),
    };
  },
});
