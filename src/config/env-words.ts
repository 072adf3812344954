/**
 * The words of a command line or of environment values, near enough to find the files they
 * name: a program's environment may make it load one (`NODE_OPTIONS="--require hook.cjs"`,
 * `BASH_ENV`, `LD_PRELOAD`, `PYTHONSTARTUP`), and a shell runs what its command line names.
 * protected.ts protects those files as it protects a program's arguments.
 */

/** Words at blanks, quotes taken off (as a shell splits them, near enough). */
export function shellWords(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/** The words of every value but PATH's (a PATH's directories are where programs are looked up, handled apart), ':'-lists split. */
export function envWords(env: Readonly<Record<string, string>> | readonly { name: string; value: string }[]): string[] {
  const pairs = Array.isArray(env) ? (env as readonly { name: string; value: string }[]).map((e) => [e.name, e.value] as const) : Object.entries(env);
  return pairs.filter(([name]) => name !== 'PATH').flatMap(([, value]) => shellWords(value).flatMap((w) => w.split(':')));
}
