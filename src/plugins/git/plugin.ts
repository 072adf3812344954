/**
 * The built-in git plugin: the tools, resources and prompts of the feature contract over
 * the confined runner (git-repo.ts). The workspace is the default root and, when it is
 * not a repository yet, is initialised as one on start (`init_workspace`).
 */
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { definePlugin, json, type CallContext, type PluginTool } from '../api.js';
import { inside } from './git-layout.js';
import { hiddenNote } from './git-hide.js';
import { GitRepos, type GitRepo } from './git-repo.js';
import { pruneSnapshots } from './git-snapshot.js';
import { DEFAULT_DENY } from '../editor/fs-contain.js';

interface GitConfig {
  roots?: string[];
  safe_mode: boolean;
  timeout_ms: number;
  max_output_bytes: number;
  init_workspace: boolean;
  max_processes: number;
  config?: Record<string, string | string[]>;
  deny?: string[];
  extra_deny?: string[];
}

const repoArg = { repo: { type: 'string', description: 'Repository path, relative to the first root (default: the first root).' } };
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties: { ...properties, ...repoArg },
  required,
  additionalProperties: false,
});

export default definePlugin<GitConfig>({
  name: 'git',
  version: '1.0.0',
  description: 'Git operations confined to configured roots; safe mode refuses push, force and history rewrites.',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      roots: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'Directories repositories must lie in (default: the workspace).' },
      safe_mode: { type: 'boolean', default: true },
      timeout_ms: { type: 'integer', minimum: 100, default: 30_000 },
      max_output_bytes: { type: 'integer', minimum: 1024, default: 1_048_576 },
      init_workspace: { type: 'boolean', default: true },
      max_processes: { type: 'integer', minimum: 1, default: 16, description: 'git processes run at once; more calls wait their turn (up to timeout_ms).' },
      deny: {
        type: 'array',
        items: { type: 'string' },
        description: "Files git_add never stages and git_diff/git_show never show (glob patterns, as the editor's deny list); replaces the default, the editor's default list.",
      },
      extra_deny: { type: 'array', items: { type: 'string' }, description: 'Added to the default deny list.' },
      config: {
        type: 'object',
        description:
          "git settings for every call (identity, credential helper, url rewrites...), passed as `git -c`. The only config git reads besides a checked copy of the repository's own: system and global config files are off.",
        additionalProperties: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
      },
    },
  },
  async start(config, ctx) {
    const roots = (config.roots ?? [ctx.workspaceDir]).map((r) => ctx.resolvePath(r));
    // Per-call config copies (git-snapshot.ts) live in the plugin's own data directory;
    // day-old leftovers of a crash are removed first.
    const scratchDir = join(ctx.dataDir, 'snapshots');
    await refuseDataInRoots(ctx.dataDir, roots);
    await pruneSnapshots(scratchDir, 24 * 3600_000);
    const repos = new GitRepos({
      roots,
      safeMode: config.safe_mode,
      timeoutMs: config.timeout_ms,
      maxOutputBytes: config.max_output_bytes,
      scratchDir,
      config: config.config,
      maxProcesses: config.max_processes,
      deny: [...(config.deny ?? DEFAULT_DENY), ...(config.extra_deny ?? [])],
      protectedPaths: () => ctx.protectedPaths ?? [],
    });
    await repos.checkGit();
    if (config.init_workspace && !config.roots && !existsSync(join(ctx.workspaceDir, '.git'))) {
      await repos.init(ctx.workspaceDir);
      ctx.log.info({ workspace: ctx.workspaceDir }, 'initialised the workspace as a git repository');
    }
    /** Every tool call gets its own pinned repository, released when the call ends. */
    const withRepo = <T>(args: Record<string, unknown>, ctx: CallContext, fn: (r: GitRepo) => Promise<T>): Promise<T> =>
      repos.withRepo(args.repo as string | undefined, fn, ctx.signal);

    const tools: PluginTool[] = [
      {
        name: 'git_status',
        description: 'Branch, upstream, ahead/behind, and staged, unstaged, untracked and conflicted files.',
        inputSchema: obj({}),
        annotations: { readOnlyHint: true },
        handler: async (a, ctx) => {
          const s = await withRepo(a, ctx, (r) => r.status());
          return json(s as unknown as Record<string, unknown>);
        },
      },
      {
        name: 'git_diff',
        description:
          'The diff of the work tree (default), of the index (staged), or of a commit or range, optionally for one file; files the deny list hides (.env, keys, .ssh, ...) are left out (counted in hidden).',
        inputSchema: obj({ staged: { type: 'boolean' }, file: { type: 'string' }, commit: { type: 'string' } }),
        annotations: { readOnlyHint: true },
        handler: async (a, ctx) => {
          const d = await withRepo(a, ctx, (r) => r.diff({ staged: a.staged as boolean | undefined, file: a.file as string | undefined, commit: a.commit as string | undefined }));
          const text = [d.empty ? '(no changes)' : d.diff, hiddenNote(d.hidden)].filter(Boolean).join('\n');
          return { content: [{ type: 'text', text }], structuredContent: { files: d.files, empty: d.empty, hidden: d.hidden } };
        },
      },
      {
        name: 'git_add',
        description: 'Stages the given files, or every change with all: true; never a file the deny list hides (.env, keys, .ssh, ...).',
        inputSchema: obj({ files: { type: 'array', items: { type: 'string' }, minItems: 1 }, all: { type: 'boolean' } }),
        handler: async (a, ctx) => {
          if (!a.files && !a.all) throw Object.assign(new Error('give "files" or "all": true'), { code: 'ARG_REJECTED' });
          return json(await withRepo(a, ctx, (r) => r.add({ files: a.files as string[] | undefined, all: a.all as boolean | undefined })));
        },
      },
      {
        name: 'git_commit',
        description: 'Commits the staged changes with the message. amend rewrites history and is refused in safe mode.',
        inputSchema: obj({ message: { type: 'string', minLength: 1 }, amend: { type: 'boolean' } }, ['message']),
        handler: async (a, ctx) =>
          json((await withRepo(a, ctx, (r) => r.commit({ message: a.message as string, amend: a.amend as boolean | undefined }))) as unknown as Record<string, unknown>),
      },
      {
        name: 'git_push',
        description: 'Pushes to a remote. Refused in safe mode (the default).',
        inputSchema: obj({ remote: { type: 'string' }, branch: { type: 'string' }, force: { type: 'boolean' } }),
        annotations: { destructiveHint: true, openWorldHint: true },
        handler: async (a, ctx) =>
          json(
            (await withRepo(a, ctx, (r) =>
              r.push({ remote: a.remote as string | undefined, branch: a.branch as string | undefined, force: a.force as boolean | undefined }),
            )) as unknown as Record<string, unknown>,
          ),
      },
      {
        name: 'git_pull',
        description: 'Pulls from a remote (fast-forward only in safe mode).',
        inputSchema: obj({ remote: { type: 'string' }, branch: { type: 'string' } }),
        annotations: { openWorldHint: true },
        handler: async (a, ctx) =>
          json((await withRepo(a, ctx, (r) => r.pull({ remote: a.remote as string | undefined, branch: a.branch as string | undefined }))) as unknown as Record<string, unknown>),
      },
      {
        name: 'git_branch',
        description: 'Lists, creates, deletes (merged only in safe mode) or switches branches.',
        inputSchema: obj({ action: { type: 'string', enum: ['list', 'create', 'delete', 'switch'] }, name: { type: 'string' } }, ['action']),
        handler: async (a, ctx) =>
          json((await withRepo(a, ctx, (r) => r.branch({ action: a.action as 'list', name: a.name as string | undefined }))) as unknown as Record<string, unknown>),
      },
      {
        name: 'git_log',
        description: 'Recent commits: sha, author, date, subject.',
        inputSchema: obj({ limit: { type: 'integer', minimum: 1, maximum: 1000 } }),
        annotations: { readOnlyHint: true },
        handler: async (a, ctx) => {
          const entries = await withRepo(a, ctx, (r) => r.log({ limit: a.limit as number | undefined }));
          return json({ commits: entries }, entries.map((e) => `${e.sha.slice(0, 10)} ${e.date} ${e.author}: ${e.subject}`).join('\n') || '(no commits)');
        },
      },
      {
        name: 'git_show',
        description:
          'A commit (metadata and patch) or an object, by revision; a file as <rev>:<path> or :<path>. Files the deny list hides (.env, keys, .ssh, ...) are refused, and left out of a patch (counted in hidden).',
        inputSchema: obj({ rev: { type: 'string', minLength: 1 } }, ['rev']),
        annotations: { readOnlyHint: true },
        handler: async (a, ctx) => {
          const s = await withRepo(a, ctx, (r) => r.show({ rev: a.rev as string }));
          const text = [s.text, hiddenNote(s.hidden)].filter(Boolean).join('\n');
          return { content: [{ type: 'text', text }], structuredContent: { ...s, text: undefined } as Record<string, unknown> };
        },
      },
    ];

    return {
      tools,
      stop: () => repos.close(),
      resources: [
        {
          uri: 'mcpeg://git/repo_info',
          name: 'git_repo_info',
          description: 'The workspace repository: toplevel, branch, HEAD, remotes, dirty.',
          mimeType: 'application/json',
          read: async (ctx) => [
            { uri: 'mcpeg://git/repo_info', mimeType: 'application/json', text: JSON.stringify(await repos.withRepo(undefined, (r) => r.repoInfo(), ctx.signal), null, 2) },
          ],
        },
        {
          uri: 'mcpeg://git/remote_info',
          name: 'git_remote_info',
          description: 'Remotes of the workspace repository, with credentials stripped from URLs.',
          mimeType: 'application/json',
          read: async (ctx) => [
            { uri: 'mcpeg://git/remote_info', mimeType: 'application/json', text: JSON.stringify(await repos.withRepo(undefined, (r) => r.remoteInfo(), ctx.signal), null, 2) },
          ],
        },
      ],
      prompts: [
        {
          name: 'git_workflow',
          description: 'Guides a change through status, diff, staging and commit, with the repository state filled in.',
          arguments: [
            { name: 'goal', description: 'What the change should achieve.', required: false },
            { name: 'repo', description: 'Repository path (default: the workspace).' },
          ],
          get: async (args, ctx) => {
            const s = await repos.withRepo(args.repo || undefined, (r) => r.status(), ctx.signal);
            const changed = [...s.staged, ...s.unstaged].map((f) => f.path);
            return {
              description: 'A git workflow for the current repository',
              messages: [
                {
                  role: 'user',
                  content: {
                    type: 'text',
                    text: [
                      `Goal: ${args.goal || 'commit the current work cleanly'}.`,
                      `Branch: ${s.branch ?? '(detached)'}; ${s.staged.length} staged, ${s.unstaged.length} unstaged, ${s.untracked.length} untracked file(s).`,
                      changed.length ? `Changed: ${changed.slice(0, 50).join(', ')}` : 'No tracked changes yet.',
                      'Steps: review with git_diff (and staged: true), stage with git_add, write a message (the commit_message prompt helps), commit with git_commit, check with git_log. Do not push unless asked.',
                    ].join('\n'),
                  },
                },
              ],
            };
          },
        },
        {
          name: 'commit_message',
          description: 'A commit message suggestion built from the staged diff.',
          arguments: [{ name: 'repo', description: 'Repository path (default: the workspace).' }],
          get: async (args, ctx) => {
            const [sug, d] = await repos.withRepo(args.repo || undefined, async (r) => [await r.commitMessageSuggestion(), await r.diff({ staged: true })] as const, ctx.signal);
            return {
              description: `Suggested: ${sug.subject}`,
              messages: [
                {
                  role: 'user',
                  content: {
                    type: 'text',
                    text: `Write a commit message for this staged change. A suggestion from the diff:\n\n${sug.message}\n\nStaged diff (${sug.files.length} file(s), +${sug.insertions} −${sug.deletions}):\n\n${d.diff.slice(0, 20_000)}${d.hidden > 0 ? `\n${hiddenNote(d.hidden)}` : ''}`,
                  },
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
 * The config copies every call makes (git-snapshot.ts) are what git reads as the
 * repository's config: in a directory a client could write through a git checkout (or any
 * file tool), a copy rewritten during a call would run a program. Refused at start.
 */
async function refuseDataInRoots(dataDir: string, roots: readonly string[]): Promise<void> {
  const data = await realpath(dataDir);
  for (const r of roots) {
    const real = await realpath(r).catch(() => undefined);
    if (real !== undefined && inside(real, data)) {
      throw new Error(
        `git: the plugin's data directory ${dataDir} lies inside the git root ${r}: a client could rewrite the per-call config copies kept there; set paths.data outside the git roots`,
      );
    }
  }
}
