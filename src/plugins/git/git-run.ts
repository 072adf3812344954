/**
 * Runs the `git` program: an argument vector (never a shell), a fixed hardened
 * environment, a per-call timeout and an output cap. Every invocation of git by the
 * plugin goes through here, so the hardening cannot be forgotten by one operation.
 */
import { spawn } from 'node:child_process';
import { GitError } from './git-errors.js';
import { redactCredentials } from './git-url.js';

export interface RunGitOptions {
  cwd: string;
  timeoutMs: number;
  /** Cap on stdout, whose excess kills git; stderr past it is dropped. */
  maxOutputBytes: number;
  /** Extra environment from trusted code (tests, the repo layer), applied last; an
   * `undefined` value removes a variable. */
  env?: Record<string, string | undefined>;
  /** Written to git's stdin, then closed (commit messages via `-F -`). */
  input?: string;
  /** Exit codes that are answers, not failures (`git config --get` exits 1 when unset). */
  acceptExit?: readonly number[];
  /** Extra `-c key=value` pairs from trusted code (the operator's settings, identity
   * defaults), applied after the hardening; never client values. */
  config?: Readonly<Record<string, string | readonly string[]>>;
  /** Run repository hooks. Off by default: see HARDENING below. */
  allowHooks?: boolean;
  /** The call's signal: once aborted, git is stopped as at its timeout. */
  signal?: AbortSignal;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Configuration forced on every call, as `-c` (which outranks every config file). The
 * repository's own config never reaches git (git-snapshot.ts gives git a checked copy) and
 * the system and global files are off (FIXED_ENV), so these are the second line: they
 * cover the defaults git would otherwise use and every program-valued setting with a fixed
 * name, should a config file ever get through.
 * - core.hooksPath=/dev/null: hooks are executables inside the repository; `allowHooks`
 *   (config-file only) opts in.
 * - core.fsmonitor=false, core.alternateRefsCommand=true, core.sshCommand, core.gitProxy=,
 *   core.askPass=, core.editor/sequence.editor=true, core.pager=cat, diff.external=,
 *   gpg.*program=false, credential.helper= (an empty value resets the helper list):
 *   every program a config file can name by a fixed key, pinned to nothing or a no-op.
 *   (Settings with free-form names, `filter.<x>.*`, `merge.<x>.driver`, `diff.<x>.*`,
 *   `remote.<x>.uploadpack`, `url.<x>.insteadOf`, cannot be pinned here; the snapshot
 *   keeps them away from git.)
 * - commit/tag/push.gpgSign=false, log.showSignature=false: nothing asks for gpg.
 * - protocol.allow=never and an allow-list: `ext::` runs commands by design and any other
 *   `<helper>::` starts `git-remote-<helper>`; only the transports the remote checks accept.
 * - submodule.recurse=false, fetch/push.recurseSubmodules, diff.ignoreSubmodules=dirty,
 *   status.submoduleSummary=false: git would otherwise start git in a submodule, with that
 *   submodule's own (unchecked) config.
 * - core.attributesFile=/dev/null: attributes from outside the repository are off, like
 *   the global config.
 * - safe.bareRepository=explicit: git never takes a directory for a bare repository by
 *   discovery (GIT_DIR is always explicit anyway).
 * - core.protectHFS/protectNTFS=true: a checked-out tree may not write `.git` under a name
 *   a case-folding or NTFS file system would alias to it (CVE-2014-9390, CVE-2019-1353).
 * - gc.auto=0, maintenance.auto=false: no detached background work outliving the call.
 * - color.ui=false: output stays parseable.
 */
const HARDENING: readonly string[] = [
  'core.fsmonitor=false',
  'core.alternateRefsCommand=true',
  'core.sshCommand=ssh',
  'core.gitProxy=',
  'core.askPass=',
  'core.editor=true',
  'sequence.editor=true',
  'core.pager=cat',
  'diff.external=',
  'diff.submodule=short',
  'gpg.program=false',
  'gpg.ssh.program=false',
  'gpg.x509.program=false',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'push.gpgSign=false',
  'log.showSignature=false',
  'credential.helper=',
  'protocol.allow=never',
  'protocol.ext.allow=never',
  'protocol.file.allow=always',
  'protocol.git.allow=always',
  'protocol.ssh.allow=always',
  'protocol.http.allow=always',
  'protocol.https.allow=always',
  'submodule.recurse=false',
  'fetch.recurseSubmodules=false',
  'push.recurseSubmodules=no',
  'diff.ignoreSubmodules=dirty',
  'status.submoduleSummary=false',
  'core.attributesFile=/dev/null',
  'safe.bareRepository=explicit',
  'core.protectHFS=true',
  'core.protectNTFS=true',
  'gc.auto=0',
  'maintenance.auto=false',
  'color.ui=false',
].flatMap((c) => ['-c', c]);

/** Variables taken from the gateway's environment; everything else (GIT_SSH_COMMAND,
 * GIT_EXEC_PATH, GIT_DIR, GIT_CONFIG_*, XDG_CONFIG_HOME, ...) is dropped so the host
 * environment cannot redirect which program, config or repository git uses. */
const INHERITED = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'SSH_AUTH_SOCK',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
];

const FIXED_ENV: Readonly<Record<string, string>> = {
  GIT_TERMINAL_PROMPT: '0', // fail instead of asking for a password nobody can type
  // No system or global config: /etc/gitconfig, ~/.gitconfig and $XDG_CONFIG_HOME/git/config
  // may lie inside a root (a HOME under the workspace), and a client could write them.
  // Settings the operator wants come from the plugin's own `config` (mcpeg.yaml).
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ATTR_NOSYSTEM: '1',
  GIT_OPTIONAL_LOCKS: '0', // read-only calls (status) must not take index.lock
  GIT_LITERAL_PATHSPECS: '1', // `:(top)`, `*` in a client's path are literal characters
  GIT_PAGER: 'cat',
  PAGER: 'cat',
  GIT_EDITOR: 'true', // nothing interactive: an editor would block until the timeout
  GIT_SEQUENCE_EDITOR: 'true',
  // The environment outranks config for these: a set-but-empty GIT_ASKPASS and
  // GIT_PROXY_COMMAND mean "none" (prompt.c, connect.c), and ssh is plain ssh.
  GIT_ASKPASS: '',
  GIT_PROXY_COMMAND: '',
  GIT_SSH_COMMAND: 'ssh',
  GIT_SSH_VARIANT: 'ssh',
  LC_ALL: 'C', // parsers rely on untranslated output
};

export function gitEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {};
  for (const k of INHERITED) env[k] = process.env[k];
  const merged = { ...env, ...FIXED_ENV, ...extra };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) out[k] = v;
  return out;
}

const EXCERPT_CHARS = 2000;

export function excerpt(text: string): string {
  const t = redactCredentials(text.trim());
  return t.length > EXCERPT_CHARS ? `${t.slice(0, EXCERPT_CHARS)}…` : t;
}

export function runGit(args: string[], opts: RunGitOptions): Promise<GitResult> {
  const config: string[] = [...HARDENING];
  if (!opts.allowHooks) config.push('-c', 'core.hooksPath=/dev/null');
  for (const [k, v] of Object.entries(opts.config ?? {})) for (const one of typeof v === 'string' ? [v] : v) config.push('-c', `${k}=${one}`);
  const argv = ['--no-pager', ...config, ...args];
  const accept = opts.acceptExit ?? [0];

  return new Promise<GitResult>((resolve, reject) => {
    // A call cancelled before its git starts starts none.
    if (opts.signal?.aborted) {
      reject(cancelled(args));
      return;
    }
    // detached: git leads a new session and process group, so a timeout can kill the
    // whole group (editor, ssh, credential helper) and nothing can open our terminal.
    const child = spawn('git', argv, {
      cwd: opts.cwd,
      env: gitEnv(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let errBytes = 0;
    let settled = false;

    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    // SIGTERM first: git removes its lock files on SIGTERM (and on the SIGPIPE of the
    // closed pipes), not on SIGKILL; a `git add` killed at its timeout left
    // `.git/index.lock`, which no client can remove, and every later add, commit and switch
    // failed (review 21). What still runs a second later is killed.
    const killGroup = (): void => {
      signalGroup('SIGTERM');
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) signalGroup('SIGKILL');
      }, 1000).unref();
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    // A failed run answers once git has exited, so that a caller bounding how many git
    // processes run at once (git-slots.ts) never overlaps a dying one with a new one.
    let failure: GitError | undefined;
    const fail = (e: GitError): void => {
      if (settled) return;
      settled = true;
      failure = e;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      killGroup();
      if (child.exitCode !== null || child.signalCode !== null) reject(e);
      // A process stuck in the kernel (an unresponsive network file system) ignores even
      // SIGKILL for a while: the caller is answered anyway.
      else setTimeout(() => reject(e), 5000).unref();
    };
    const timer = setTimeout(() => {
      fail(new GitError('TIMEOUT', `git ${args[0] ?? ''} timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    // A cancelled call's git is stopped as a timed-out one is (review 27e): nobody reads its
    // answer, and its slot (git-slots.ts) is what other calls wait for.
    const onAbort = (): void => fail(cancelled(args));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (chunk: Buffer): void => {
      if (settled) return;
      bytes += chunk.length;
      if (bytes > opts.maxOutputBytes) {
        fail(new GitError('OUTPUT_LIMIT', `git ${args[0] ?? ''} output exceeded ${opts.maxOutputBytes} bytes; narrow the request`));
        return;
      }
      out.push(chunk);
    });
    // stderr is warnings and progress, of which only an excerpt is ever shown: past the cap
    // it is dropped, never a reason to stop git. `git add` stopped for one warning per file
    // staged (under a line-ending attribute a client wrote) was SIGKILLed holding
    // `.git/index.lock`, and the repository stayed locked for every later call (review 21).
    child.stderr?.on('data', (chunk: Buffer): void => {
      if (settled || errBytes >= opts.maxOutputBytes) return;
      err.push(chunk.subarray(0, opts.maxOutputBytes - errBytes));
      errBytes += chunk.length;
    });
    child.on('error', (e) => {
      // No process to wait for when it could not be started.
      fail(new GitError('GIT_FAILED', `cannot run git: ${e.message}`, { exitCode: null }));
      if (child.pid === undefined && failure) reject(failure);
    });
    child.on('close', (code, signal) => {
      if (failure) reject(failure);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== null && accept.includes(code)) {
        resolve({ stdout, stderr, code });
        return;
      }
      // Some failures ("nothing to commit") are reported on stdout only.
      const said = excerpt(stderr || stdout);
      const how = code === null ? `killed by ${signal ?? 'a signal'}` : `exited with ${code}`;
      reject(new GitError('GIT_FAILED', `git ${args[0] ?? ''} ${how}${said ? `: ${said}` : ''}`, { exitCode: code, stderr: said }));
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // git may exit before reading; EPIPE is not ours to report
      child.stdin.end(opts.input);
    }
  });
}

function cancelled(args: readonly string[]): GitError {
  return new GitError('CANCELLED', `git ${args[0] ?? ''} was stopped: its call was cancelled`);
}
