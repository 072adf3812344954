/**
 * The built-in editor plugin: file tools, resources and prompts of the feature contract
 * over the sandbox (fs-contain.ts), which contains every path by its real path inside the
 * configured roots (default: the workspace) and refuses deny-listed files and the paths
 * the gateway protects (PluginContext.protectedPaths).
 */
import { realpathSync } from 'node:fs';
import { delimiter, isAbsolute } from 'node:path';
import { definePlugin, json, type PluginContext, type PluginTool } from '../api.js';
import { DEFAULT_DENY, FileOps, renderTree } from './fs-ops.js';

interface EditorConfig {
  roots?: string[];
  deny?: string[];
  extra_deny?: string[];
  max_read_bytes: number;
  max_write_bytes: number;
  min_free_bytes?: number;
  backups: boolean;
}

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const str = (description: string) => ({ type: 'string', minLength: 1, description });

export default definePlugin<EditorConfig>({
  name: 'editor',
  version: '1.0.0',
  description: 'Reads, writes, searches and edits files inside configured roots, by their real paths.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      roots: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'Directories the editor may touch (default: the workspace).' },
      deny: { type: 'array', items: { type: 'string' }, description: 'Replaces the default deny list (glob patterns).' },
      extra_deny: { type: 'array', items: { type: 'string' }, description: 'Added to the default deny list.' },
      max_read_bytes: { type: 'integer', minimum: 1, default: 1_048_576 },
      max_write_bytes: { type: 'integer', minimum: 1, default: 1_048_576 },
      min_free_bytes: {
        type: 'integer',
        minimum: 0,
        description: 'Bytes a write must leave free on its disk (default: 5% of the filesystem, at most 1 GiB); 0 checks inodes only.',
      },
      backups: { type: 'boolean', default: false, description: 'Default for write_file/edit_file backup.' },
    },
  },
  start(config, ctx) {
    const roots = (config.roots ?? [ctx.workspaceDir]).map((r) => ctx.resolvePath(r));
    const fs = new FileOps({
      roots,
      deny: [...(config.deny ?? DEFAULT_DENY), ...(config.extra_deny ?? [])],
      maxReadBytes: config.max_read_bytes,
      maxWriteBytes: config.max_write_bytes,
      ...(config.min_free_bytes !== undefined ? { minFreeBytes: config.min_free_bytes } : {}),
      protectedPaths: () => ctx.protectedPaths ?? [],
    });
    warnExposures(fs, ctx);
    const backup = (a: Record<string, unknown>) => (a.backup === undefined ? config.backups : (a.backup as boolean));

    const tools: PluginTool[] = [
      {
        name: 'read_file',
        description: 'Reads a UTF-8 text file; lines: [start, end] (1-based, inclusive) reads a range.',
        inputSchema: obj({ path: str('File path, relative to the first root.'), lines: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 } }, [
          'path',
        ]),
        annotations: { readOnlyHint: true },
        handler: async (a) => {
          const r = await fs.readText(a.path as string, a.lines ? { lines: a.lines as [number, number] } : {});
          return {
            content: [{ type: 'text', text: r.content }],
            structuredContent: { path: r.path, size: r.size, totalLines: r.totalLines, ...(r.range ? { range: r.range } : {}) },
          };
        },
      },
      {
        name: 'write_file',
        description: 'Writes a file atomically (temp file, fsync, rename); creates or replaces it.',
        inputSchema: obj({ path: str('File path.'), content: { type: 'string' }, create_dirs: { type: 'boolean' }, backup: { type: 'boolean' } }, ['path', 'content']),
        handler: async (a) =>
          json(
            (await fs.writeAtomic(a.path as string, a.content as string, { createDirs: a.create_dirs as boolean | undefined, backup: backup(a) })) as unknown as Record<
              string,
              unknown
            >,
          ),
      },
      {
        name: 'create_file',
        description: 'Creates a new file; fails if it exists.',
        inputSchema: obj({ path: str('File path.'), content: { type: 'string', default: '' }, create_dirs: { type: 'boolean' } }, ['path']),
        handler: async (a) =>
          json((await fs.createFile(a.path as string, (a.content as string) ?? '', { createDirs: a.create_dirs as boolean | undefined })) as unknown as Record<string, unknown>),
      },
      {
        name: 'delete_file',
        description: 'Deletes a file, or a directory with recursive: true. confirm must be true.',
        inputSchema: obj({ path: str('Path to delete.'), recursive: { type: 'boolean' }, confirm: { type: 'boolean' } }, ['path', 'confirm']),
        annotations: { destructiveHint: true },
        handler: async (a, ctx) => {
          if (a.confirm !== true) throw Object.assign(new Error('refused: set confirm: true to delete'), { code: 'CONFIRM_REQUIRED' });
          return json((await fs.deleteFile(a.path as string, { recursive: a.recursive as boolean | undefined, signal: ctx.signal })) as unknown as Record<string, unknown>);
        },
      },
      {
        name: 'move_file',
        description: 'Moves or renames a file or directory inside the roots; overwrite: true replaces an existing target.',
        inputSchema: obj({ from: str('Source path.'), to: str('Target path.'), overwrite: { type: 'boolean' }, create_dirs: { type: 'boolean' } }, ['from', 'to']),
        handler: async (a, ctx) =>
          json(
            await fs.move(a.from as string, a.to as string, {
              overwrite: a.overwrite as boolean | undefined,
              createDirs: a.create_dirs as boolean | undefined,
              signal: ctx.signal,
            }),
          ),
      },
      {
        name: 'list_directory',
        description: 'Lists a directory (depth 1 by default); deny-listed entries are hidden.',
        inputSchema: obj({ path: { type: 'string', default: '.' }, depth: { type: 'integer', minimum: 1, maximum: 32 }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } }),
        annotations: { readOnlyHint: true },
        handler: async (a, ctx) => {
          const r = await fs.listDirectory(a.path as string, { depth: a.depth as number | undefined, limit: a.limit as number | undefined, signal: ctx.signal });
          const lines = r.entries.map((e) => `${e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${e.path}${e.size !== undefined ? ` (${e.size} B)` : ''}`);
          return { content: [{ type: 'text', text: lines.join('\n') || '(empty)' }], structuredContent: r as unknown as Record<string, unknown> };
        },
      },
      {
        name: 'search_files',
        description: 'Searches file contents for a literal string (default) or a regular expression; per-file counts and the first matches, with a total cap.',
        inputSchema: obj(
          {
            pattern: str('Text to find; with regex: true, a regular expression in RE2 syntax (no backreferences or lookaround).'),
            path: { type: 'string', description: 'Directory to search (default: the first root).' },
            file_pattern: { type: 'string', description: 'Glob for file names, e.g. "*.ts", or for root-relative paths when it contains "/", e.g. "src/**/*.ts".' },
            regex: { type: 'boolean' },
            ignore_case: { type: 'boolean' },
            max_matches: { type: 'integer', minimum: 1, maximum: 10_000 },
          },
          ['pattern'],
        ),
        annotations: { readOnlyHint: true },
        handler: async (a, ctx) => {
          const r = await fs.search({
            pattern: a.pattern as string,
            path: a.path as string | undefined,
            filePattern: a.file_pattern as string | undefined,
            regex: a.regex as boolean | undefined,
            ignoreCase: a.ignore_case as boolean | undefined,
            maxMatches: a.max_matches as number | undefined,
            signal: ctx.signal,
          });
          const head = `${r.totalMatches} match(es) in ${r.files.length} file(s)${r.truncated ? ' (truncated)' : ''}`;
          const lines = r.matches.map((m) => `${m.path}:${m.line}: ${m.text}`);
          return { content: [{ type: 'text', text: [head, ...lines].join('\n') }], structuredContent: r as unknown as Record<string, unknown> };
        },
      },
      {
        name: 'edit_file',
        description: 'Replaces one exact, unique occurrence of "old" with "new"; dry_run returns the diff without writing.',
        inputSchema: obj(
          { path: str('File path.'), old: str('Exact text to replace (must occur once).'), new: { type: 'string' }, dry_run: { type: 'boolean' }, backup: { type: 'boolean' } },
          ['path', 'old', 'new'],
        ),
        handler: async (a) => {
          const r = await fs.editFile({ path: a.path as string, old: a.old as string, new: a.new as string, dryRun: a.dry_run as boolean | undefined, backup: backup(a) });
          return { content: [{ type: 'text', text: r.diff }], structuredContent: r as unknown as Record<string, unknown> };
        },
      },
    ];

    return {
      tools,
      resources: [
        {
          uri: 'mcpeg://editor/file_tree',
          name: 'file_tree',
          description: 'The tree of the first root (depth 4).',
          mimeType: 'text/plain',
          read: async (ctx) => [{ uri: 'mcpeg://editor/file_tree', mimeType: 'text/plain', text: renderTree((await fs.fileTree('.', 4, undefined, { signal: ctx.signal })).tree) }],
        },
        {
          uri: 'mcpeg://editor/file_stats',
          name: 'file_stats',
          description: 'File and byte counts of the first root.',
          mimeType: 'application/json',
          read: async (ctx) => {
            const r = await fs.listDirectory('.', { depth: 32, limit: 100_000, signal: ctx.signal });
            const files = r.entries.filter((e) => e.type === 'file');
            const stats = {
              roots,
              files: files.length,
              directories: r.entries.filter((e) => e.type === 'directory').length,
              bytes: files.reduce((n, e) => n + (e.size ?? 0), 0),
              truncated: r.truncated,
            };
            return [{ uri: 'mcpeg://editor/file_stats', mimeType: 'application/json', text: JSON.stringify(stats, null, 2) }];
          },
        },
      ],
      prompts: [
        {
          name: 'code_review',
          description: 'Asks for a review of one file, with its contents embedded.',
          arguments: [
            { name: 'path', description: 'File to review.', required: true },
            { name: 'focus', description: 'What to look at (security, style, ...).' },
          ],
          get: async (args) => {
            const r = await fs.readText(args.path);
            return {
              description: `Review of ${r.path}`,
              messages: [
                {
                  role: 'user',
                  content: {
                    type: 'text',
                    text: `Review ${r.path}${args.focus ? ` with a focus on ${args.focus}` : ''}. Point out bugs, risks and unclear code, citing line numbers.\n\n\`\`\`\n${r.content}\n\`\`\``,
                  },
                },
              ],
            };
          },
        },
        {
          name: 'file_summary',
          description: 'Asks for a summary of one file, with its contents embedded.',
          arguments: [{ name: 'path', description: 'File to summarise.', required: true }],
          get: async (args) => {
            const r = await fs.readText(args.path);
            return {
              description: `Summary of ${r.path}`,
              messages: [
                {
                  role: 'user',
                  content: { type: 'text', text: `Summarise ${r.path} (${r.totalLines} lines): its purpose, main parts and anything surprising.\n\n\`\`\`\n${r.content}\n\`\`\`` },
                },
              ],
            };
          },
        },
      ],
    };
  },
});

/**
 * Start-up warnings for layouts the per-call checks handle but an operator should fix: a
 * root inside a protected directory (every call in it is refused), and a PATH directory
 * inside a root (a program a backend looks up by name could be one a client wrote; only the
 * names the config itself starts are protected).
 */
function warnExposures(fs: FileOps, ctx: PluginContext): void {
  for (const root of fs.sandbox.roots) {
    const hit = fs.sandbox.protectedBy(root);
    if (hit) ctx.log.warn({ root, protected: hit.path }, `editor root lies inside ${hit.reason}: every path in it is refused`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (isAbsolute(dir) && fs.sandbox.locate(realOrSelf(dir)))
      ctx.log.warn({ pathEntry: dir }, 'a PATH directory lies inside an editor root: a client could place programs there that backends find by name');
  }
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
