/**
 * The files and programs a kubeconfig names, as the Kubernetes client uses them
 * (@kubernetes/client-node): a cluster's `certificate-authority` (trusting it is trusting
 * whoever answers as the API server), a user's `client-certificate`, `client-key`,
 * `token-file` and `auth-provider.config.tokenFile` (credentials), and the programs it starts
 * for credentials, `exec.command` (with its `args` and the words of its `env`'s values, looked
 * up on its `env`'s PATH when it sets one) and `auth-provider.config.cmd-path` (with its
 * `cmd-args`: the gcp and azure providers run `"cmd-path" cmd-args` through a shell, so a
 * script those words name is run too).
 * protected.ts protects them as it protects the kubeconfig itself: a client able to write
 * one inside an editor root would otherwise run code at the source's next connect, or read
 * the cluster's credentials.
 *
 * Read when the protected paths are computed (at start and at each reload); a kubeconfig
 * that is missing or not YAML names nothing (the source's own connect reports it). Relative
 * names are taken both ways the client may resolve them: against the kubeconfig's directory
 * (certificate and key files) and against the gateway's working directory (the rest).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse } from 'yaml';
import { envWords, shellWords } from './env-words.js';

export interface KubeconfigRefs {
  /** Files, as written (a relative one is taken against `dir` and the working directory). */
  readonly files: readonly string[];
  /** Programs the client starts: a command (a bare name is looked up on `path`, else the gateway's PATH) and its arguments. */
  readonly programs: readonly { command: string; args: readonly string[]; path?: string }[];
  /** The kubeconfig's directory (relative names are taken against it and against the working directory). */
  readonly dir: string;
}

/** A kubeconfig's own text is trusted little: a string field only, anything else ignored. */
const str = (o: unknown, k: string): string | undefined => {
  if (o === null || typeof o !== 'object' || !Object.hasOwn(o, k)) return undefined;
  const v = (o as Record<string, unknown>)[k];
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const obj = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined);
const list = (o: unknown, k: string): unknown[] => {
  const v = obj(o, k);
  return Array.isArray(v) ? v : [];
};

export function kubeconfigRefs(file: string): KubeconfigRefs {
  const files: string[] = [];
  const programs: { command: string; args: string[]; path?: string }[] = [];
  let doc: unknown;
  try {
    // merge: the Kubernetes client's js-yaml takes `<<` merge keys (YAML 1.1); without it a user merged from an anchor named nothing here.
    doc = parse(readFileSync(file, 'utf8'), { maxAliasCount: 100, merge: true });
  } catch {
    return { files, programs, dir: dirname(file) };
  }
  for (const c of list(doc, 'clusters')) {
    const ca = str(obj(c, 'cluster'), 'certificate-authority');
    if (ca) files.push(ca);
  }
  for (const u of list(doc, 'users')) {
    const user = obj(u, 'user');
    for (const k of ['client-certificate', 'client-key', 'token-file']) {
      const f = str(user, k);
      if (f) files.push(f);
    }
    const provider = obj(obj(user, 'auth-provider'), 'config');
    const tokenFile = str(provider, 'tokenFile');
    if (tokenFile) files.push(tokenFile);
    const cmd = str(provider, 'cmd-path');
    if (cmd) programs.push({ command: cmd, args: shellWords(str(provider, 'cmd-args') ?? '') });
    const exec = obj(user, 'exec');
    const command = str(exec, 'command');
    // The child's environment is the gateway's with `env` over it: spawn looks a bare command up on that PATH,
    // and the other values may name what the program loads (NODE_OPTIONS="--require hook.js", BASH_ENV, LD_PRELOAD).
    const env = list(exec, 'env');
    const path = env.filter((e) => str(e, 'name') === 'PATH').at(-1);
    const args = list(exec, 'args').filter((a): a is string => typeof a === 'string');
    args.push(...envWords(env.map((e) => ({ name: str(e, 'name') ?? '', value: str(e, 'value') ?? '' }))));
    if (command) programs.push({ command, args, ...(path !== undefined ? { path: str(path, 'value') ?? '' } : {}) });
  }
  return { files, programs, dir: dirname(file) };
}
