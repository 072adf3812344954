/** git as the operator runs it in a test's workspace: an identity, no global or system config. */
import { execFileSync } from 'node:child_process';

/** A function running git in `cwd`, answering its trimmed stdout. */
export function operatorGit(cwd: string): (...args: string[]) => string {
  return (...args) =>
    execFileSync('git', ['-c', 'user.name=operator', '-c', 'user.email=op@example.com', ...args], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    }).trim();
}
